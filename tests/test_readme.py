"""The README's two commands are what CI runs."""
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_readme_commands_are_what_ci_runs():
    with open(osp.join(REPO, 'README.md')) as f:
        readme = f.read()
    with open(osp.join(REPO, '.ci', 'run')) as f:
        ci = f.read()
    install = 'pip install -c requirements/constraints.txt -e ".[tests]"'
    test = 'python -m pytest tests'
    assert install in readme and test in readme
    assert install in ci and test in ci
