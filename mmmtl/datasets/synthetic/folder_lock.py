"""Writing a dataset folder whole or not at all, one writer at a time.

A writer holds an OS file lock (``filelock``; released by the OS if the
process dies) on ``.<name>.lock`` beside the folder ``<name>``, writes into
``.<name>.partial`` and renames it into place at the end, so a reader never
sees a half-written dataset. What a killed writer left behind is removed by
the next writer, which holds the lock and so knows no one else is writing.
The lock file itself stays (an empty file).
"""
import os
import os.path as osp
import shutil
from contextlib import contextmanager
from typing import Callable, Iterator

from filelock import FileLock


def _sibling(folder: str, kind: str) -> str:
    parent, base = osp.split(folder)
    return osp.join(parent, f'.{base}.{kind}')


@contextmanager
def folder_lock(folder: str) -> Iterator[None]:
    """Hold the writer's lock of ``folder`` (its parent must exist)."""
    with FileLock(_sibling(folder, 'lock')):
        yield


def write_folder(folder: str, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` on an empty temporary folder and put it in the
    place of ``folder`` (replacing what is there). Call it holding
    :func:`folder_lock`."""
    tmp, old = _sibling(folder, 'partial'), _sibling(folder, 'old')
    for leftover in (tmp, old):     # of a writer that was killed
        shutil.rmtree(leftover, ignore_errors=True)
    os.makedirs(tmp)
    try:
        write(tmp)
        if osp.exists(folder):
            os.rename(folder, old)
            os.rename(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
