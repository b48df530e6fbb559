"""The command line shared by the dataset converters of this folder.

Every converter takes ``--root``, ``--out-dir`` (default ``ROOT/annotations``),
``--splits`` and ``--nproc``, exits with ``error: ...`` when the input folder
does not have the dataset's original layout, and prints one summary line per
split. Imported as a sibling module, like ``_converter_utils``.
"""
import argparse
import sys
from typing import Callable

from _converter_utils import LayoutError


def converter_parser(description: str,
                     root_help: str) -> argparse.ArgumentParser:
    """A parser with ``--root``, ``--out-dir`` and ``--splits``; the
    converter adds ``--nproc`` (see :func:`add_nproc_arg`) and its own
    options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('--root', required=True, help=root_help)
    parser.add_argument('--out-dir', default=None,
                        help='where the JSONs go (default ROOT/annotations)')
    parser.add_argument('--splits', nargs='+', default=['train', 'val'])
    return parser


def add_nproc_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--nproc', type=int, default=1)


def run_converter(convert: Callable[..., dict], *args, **kwargs) -> dict:
    """``convert(*args, **kwargs)``, exiting with ``error: ...`` on a
    :class:`LayoutError`; prints the returned per-split summary as
    ``[split] key: value, ...`` lines and returns it."""
    try:
        summary = convert(*args, **kwargs)
    except LayoutError as e:
        sys.exit(f'error: {e}')
    for split, info in summary.items():
        print(f'[{split}] ' + ', '.join(f'{k}: {v}' for k, v in info.items()))
    return summary
