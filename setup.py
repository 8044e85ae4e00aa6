"""Installation of mmvireid, in mmpretrain's manner."""
import os.path as osp
import re

from setuptools import find_packages, setup


def readme():
    with open('README.md', encoding='utf-8') as f:
        return f.read()


def get_version():
    with open(osp.join('mmvireid', 'version.py'), encoding='utf-8') as f:
        return re.search(r"__version__ = '(.+)'", f.read()).group(1)


def parse_requirements(fname):
    """Requirement lines of ``fname``, following ``-r`` includes."""
    requirements = []
    with open(fname, encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            if line.startswith('-r '):
                requirements += parse_requirements(
                    osp.join(osp.dirname(fname), line[3:].strip()))
            else:
                requirements.append(line)
    return requirements


setup(
    name='mmvireid',
    version=get_version(),
    description='OpenMMLab plugin for visible-infrared person '
    're-identification (supervised MCLNet / AGW, unsupervised SPCL-ID)',
    long_description=readme(),
    long_description_content_type='text/markdown',
    keywords='person re-identification, visible-infrared, openmmlab',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'demo')),
    include_package_data=True,
    python_requires='>=3.8',
    license='Apache License 2.0',
    classifiers=[
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
    install_requires=parse_requirements('requirements/runtime.txt'),
    extras_require={
        'tests': parse_requirements('requirements/tests.txt'),
        'optional': parse_requirements('requirements/optional.txt'),
    },
    zip_safe=False)
