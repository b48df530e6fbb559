"""The synthetic dataset generated on first use, and kept while it matches."""
import json
import os
import os.path as osp
from typing import Optional, Sequence, Union

from .folder_lock import folder_lock
from .meta import SPLITS, check_args, dataset_meta
from .writer import write_dataset


def _read_meta(root: str) -> Optional[dict]:
    try:
        with open(osp.join(root, 'meta.json')) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _is_complete(root: str, meta: dict) -> bool:
    """Whether the files that ``meta`` promises are all there."""
    for split in SPLITS:
        num = meta[f'num_{split}']
        if not osp.isfile(osp.join(root, 'annotations',
                                   f'instances_{split}.json')):
            return False
        for sub in ('images', 'seg_maps') + (
                ('depth_maps', ) if 'depth_png_scale' in meta else ()):
            folder = osp.join(root, sub, split)
            if not osp.isdir(folder) or len(os.listdir(folder)) != num:
                return False
    return True


def _is_current(out_dir: str, root: str, want: dict) -> bool:
    """Whether ``root`` holds the dataset ``want`` describes, whole.

    Raises:
        FileExistsError: ``root`` is a non-empty folder that holds no
            synthetic dataset (never replaced).
    """
    if not (osp.isdir(root) and os.listdir(root)):
        return False
    have = _read_meta(root)
    if have == want and _is_complete(root, want):
        return True
    if have is None or 'version' not in have or 'seg_classes' not in have:
        raise FileExistsError(
            f'{out_dir} is not empty and holds no synthetic dataset '
            f'(no readable meta.json); not replacing it: remove it or '
            f'choose another folder')
    return False


def ensure_synthetic_dataset(out_dir: str,
                             num_train: int = 200,
                             num_val: int = 50,
                             img_size: Union[int, Sequence[int]] = (128, 128),
                             seed: int = 0,
                             progress: bool = True,
                             depth: bool = False) -> str:
    """Make sure ``out_dir`` holds the synthetic dataset of these arguments
    (as :func:`generate_synthetic_dataset`) and return ``out_dir``.

    Nothing is written when its ``meta.json`` matches the arguments (and the
    code's version) and its files are all there. Otherwise the dataset is
    (re)generated, replacing an earlier synthetic dataset; a non-empty
    folder without a synthetic ``meta.json`` is never replaced
    (:class:`FileExistsError`). Processes that ask at once wait for the one
    that writes (:mod:`.folder_lock`).
    """
    want = dataset_meta(*check_args(num_train, num_val, img_size, seed),
                        depth=depth)
    root = osp.realpath(out_dir)
    if _is_current(out_dir, root, want):
        return out_dir
    os.makedirs(osp.dirname(root), exist_ok=True)
    with folder_lock(root):
        if not _is_current(out_dir, root, want):  # not written meanwhile
            write_dataset(root, want, progress)
    return out_dir
