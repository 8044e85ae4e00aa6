"""Compare the resolved configs of a git revision with the working tree.

A config refactoring (moving keys into ``_base_`` files, merging blocks)
should change no resolved value. This prints, for every method config
(``configs/**/*.py`` outside ``_base_``), the keys whose resolved values
differ between revision ``REV`` and the working tree, as flattened paths
(``model.head.loss_id.loss_weight``)::

    python tools/misc/diff_configs.py 5fcdb27
    python tools/misc/diff_configs.py HEAD~3 \
        configs/spcl_id/spcl_id_r50_sysu.py

It exits with status 1 when any config differs (or came or went), 0 when
all resolve identically.
"""
import argparse
import glob
import os
import os.path as osp
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional

from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def flatten(cfg, prefix: str = '') -> Dict[str, object]:
    """``{'a.b.0.c': value}`` for nested dicts and lists of dicts.

    Lists of plain values stay values (``mean=[...]`` is one entry).
    """
    if isinstance(cfg, dict):
        items = cfg.items()
    elif isinstance(cfg, (list, tuple)) and any(
            isinstance(v, (dict, list, tuple)) for v in cfg):
        items = enumerate(cfg)
    else:
        return {prefix[:-1]: cfg}
    out = {}
    for key, value in items:
        out.update(flatten(value, f'{prefix}{key}.'))
    return out


def config_diff(old: dict, new: dict) -> List[str]:
    """Lines describing every flattened key that differs.

    Args:
        old, new (dict): Resolved configs (``Config.to_dict()``).

    Returns:
        list[str]: ``'- key: value'`` (only in old), ``'+ key: value'``
        (only in new), ``'~ key: old -> new'``, sorted by key.
    """
    old, new = flatten(old), flatten(new)
    lines = []
    for key in sorted(set(old) | set(new)):
        if key not in new:
            lines.append(f'- {key}: {old[key]!r}')
        elif key not in old:
            lines.append(f'+ {key}: {new[key]!r}')
        elif old[key] != new[key]:
            lines.append(f'~ {key}: {old[key]!r} -> {new[key]!r}')
    return lines


def _git(*args) -> bytes:
    return subprocess.run(['git', '-C', REPO, *args],
                          capture_output=True,
                          check=True).stdout


def _method_configs(root: str) -> List[str]:
    return sorted(
        osp.relpath(path, root)
        for path in glob.glob(osp.join(root, 'configs', '**', '*.py'),
                              recursive=True)
        if f'{os.sep}_base_{os.sep}' not in path)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('rev', help='git revision to compare with')
    parser.add_argument(
        'configs', nargs='*', help='configs to compare (default: all)')
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as root:
        for name in _git('ls-tree', '-r', '--name-only', args.rev,
                         'configs').decode().split():
            os.makedirs(osp.dirname(osp.join(root, name)), exist_ok=True)
            with open(osp.join(root, name), 'wb') as f:
                f.write(_git('show', f'{args.rev}:{name}'))
        before, after = _method_configs(root), _method_configs(REPO)
        names = args.configs or sorted(set(before) | set(after))
        changed = 0
        for name in names:
            name = osp.relpath(osp.abspath(name), REPO) if osp.exists(
                name) else name
            if name not in before or name not in after:
                print(f'{name}: only in '
                      f'{"the working tree" if name in after else args.rev}')
                changed += 1
                continue
            lines = config_diff(
                Config.fromfile(osp.join(root, name)).to_dict(),
                Config.fromfile(osp.join(REPO, name)).to_dict())
            if lines:
                changed += 1
                print(f'{name}:\n  ' + '\n  '.join(lines))
        print(f'{changed} of {len(names)} configs differ from {args.rev}')
    return int(changed > 0)


if __name__ == '__main__':
    sys.exit(main())
