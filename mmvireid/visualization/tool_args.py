"""Command-line options shared by the analysis tools."""
import argparse
import os
from typing import List, Optional

from mmengine.config import DictAction


def add_runner_args(parser: argparse.ArgumentParser,
                    work_dir_help: str = 'work dir of the extraction run'
                    ) -> None:
    """The runner options every analysis tool takes: ``--work-dir``,
    ``--cfg-options``, ``--launcher`` and ``--local_rank``."""
    parser.add_argument('--work-dir', help=work_dir_help)
    parser.add_argument('--cfg-options',
                        nargs='+',
                        action=DictAction,
                        help='override config settings, key=value pairs')
    parser.add_argument('--launcher',
                        choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none',
                        help='job launcher of the extraction')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_tool_args(parser: argparse.ArgumentParser,
                    args: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse ``args``; set ``LOCAL_RANK`` from ``--local_rank`` unless a
    launcher already did (as ``tools/train.py``)."""
    parsed = parser.parse_args(args)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(parsed.local_rank)
    return parsed
