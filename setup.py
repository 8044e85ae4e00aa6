"""Installation of mmvireid, in mmpretrain's manner."""
import os
import os.path as osp
import re
import shutil
import sys

from setuptools import find_packages, setup

# torch >= 2.6 (the checkpoint policy, requirements/runtime.txt) has no
# wheels for older Pythons: say so before pip tries to resolve it.
if sys.version_info < (3, 9):
    sys.exit('mmvireid needs Python >= 3.9 (torch >= 2.6 and numpy >= 2 do '
             f'not support Python {sys.version.split()[0]})')


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


def add_mim_extension():
    """Put configs, tools and model-index.yml under ``mmvireid/.mim`` so
    ``mim search`` / ``mim train`` find them (as mmpretrain does): links for
    an editable install, copies for a regular one."""
    if 'develop' in sys.argv or 'editable_wheel' in sys.argv:
        mode = 'symlink'
    elif {'sdist', 'bdist_wheel', 'install', 'build'} & set(sys.argv):
        mode = 'copy'
    else:
        return
    mim_path = osp.join(osp.dirname(osp.abspath(__file__)), 'mmvireid',
                        '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in ('configs', 'tools', 'model-index.yml'):
        src = osp.join(osp.dirname(osp.abspath(__file__)), name)
        dst = osp.join(mim_path, name)
        if not osp.exists(src):
            continue
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim_path), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst)
        else:
            shutil.copyfile(src, dst)


add_mim_extension()
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
    package_data={'mmvireid': ['.mim/model-index.yml', '.mim/configs/**/*',
                               '.mim/tools/**/*']},
    python_requires='>=3.9',
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
