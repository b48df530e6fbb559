"""Writing the synthetic scenes as a COCO dataset with semantic maps."""
import json
import os
import os.path as osp
from typing import Dict, List, Sequence, Union

import cv2
import numpy as np

from .depth import depth_png
from .folder_lock import folder_lock, write_folder
from .meta import (DET_CLASSES, SEG_CLASSES, SPLITS, VERSION, check_args,
                   dataset_meta)
from .scene import render_scene, scene_rng


def _annotation(mask: np.ndarray, category_id: int, ann_id: int,
                img_id: int) -> dict:
    """The COCO annotation of a visible mask: tight box, area, RLE."""
    from pycocotools import mask as mask_utils
    ys, xs = np.nonzero(mask)
    x1, y1 = int(xs.min()), int(ys.min())
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return dict(id=ann_id, image_id=img_id, category_id=category_id,
                bbox=[x1, y1, int(xs.max()) + 1 - x1, int(ys.max()) + 1 - y1],
                area=int(len(xs)), iscrowd=0, segmentation=rle)


def _imwrite(path: str, arr: np.ndarray, params=()) -> None:
    if not cv2.imwrite(path, arr, list(params)):
        raise OSError(f'could not write {path}')


def _coco_file(split: str, images: List[dict],
               annotations: List[dict]) -> dict:
    return dict(
        info=dict(description=f'mmmtl synthetic multi-task dataset '
                  f'({split})', version=str(VERSION)),
        licenses=[],
        images=images, annotations=annotations,
        categories=[dict(id=i + 1, name=n, supercategory='shape')
                    for i, n in enumerate(DET_CLASSES)],
        seg_classes=list(SEG_CLASSES))


def _write_scene(root: str, split: str, name: str, scene,
                 depth: bool) -> None:
    """The image, seg map (and depth map) files of one scene."""
    _imwrite(osp.join(root, 'images', split, name + '.jpg'),
             cv2.cvtColor(scene.img, cv2.COLOR_RGB2BGR),
             [cv2.IMWRITE_JPEG_QUALITY, 95])
    _imwrite(osp.join(root, 'seg_maps', split, name + '.png'), scene.seg)
    if depth:
        _imwrite(osp.join(root, 'depth_maps', split, name + '.png'),
                 depth_png(scene.depth))


def _write_split(root: str, split: str, num: int, h: int, w: int, seed: int,
                 depth: bool, progress: bool) -> None:
    """Images, seg maps (depth maps) and the instances file of a split."""
    for sub in ('images', 'seg_maps') + (('depth_maps', ) if depth else ()):
        os.makedirs(osp.join(root, sub, split))
    images, annotations = [], []
    indices = range(num)
    if progress:
        from tqdm import tqdm
        indices = tqdm(indices, desc=f'synthetic {split}', unit='img')
    for i in indices:
        scene = render_scene(h, w, scene_rng(seed, split, i))
        _write_scene(root, split, f'{i:06d}', scene, depth)
        images.append(dict(id=i + 1, file_name=f'{i:06d}.jpg', height=h,
                           width=w))
        for obj in scene.objects:
            if obj['annotated']:
                annotations.append(_annotation(
                    obj['mask'], obj['category_id'], len(annotations) + 1,
                    i + 1))
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    with open(osp.join(root, 'annotations', f'instances_{split}.json'),
              'w') as f:
        json.dump(_coco_file(split, images, annotations), f)


def _check_target(out_dir: str, target: str, overwrite: bool) -> None:
    if osp.exists(target):
        if not osp.isdir(target):
            raise FileExistsError(f'{out_dir} exists and is not a folder')
        if os.listdir(target) and not overwrite:
            raise FileExistsError(f'{out_dir} exists and is not empty; pass '
                                  'overwrite=True (--overwrite) to replace '
                                  'it')


def write_dataset(target: str, meta: dict, progress: bool) -> None:
    """Write the dataset that ``meta`` describes in the place of
    ``target``; the caller holds its :func:`folder_lock`."""
    h, w = meta['img_size']

    def write(root: str) -> None:
        for split in SPLITS:
            _write_split(root, split, meta[f'num_{split}'], h, w,
                         meta['seed'], 'depth_png_scale' in meta, progress)
        with open(osp.join(root, 'meta.json'), 'w') as f:
            json.dump(meta, f, indent=1)

    write_folder(target, write)


def generate_synthetic_dataset(out_dir: str,
                               num_train: int = 200,
                               num_val: int = 50,
                               img_size: Union[int, Sequence[int]] = (128, 128),
                               seed: int = 0,
                               progress: bool = True,
                               overwrite: bool = False,
                               depth: bool = False) -> Dict:
    """Write the dataset to ``out_dir`` and return its meta dict.

    Args:
        out_dir (str): Where to write (created, with its parents).
        num_train (int): Number of training images.
        num_val (int): Number of validation images.
        img_size (int | tuple[int, int]): ``(H, W)``, or one int for a
            square; at least 32.
        seed (int): Non-negative seed; with the same arguments the files
            have the same bytes.
        progress (bool): Show a progress bar.
        overwrite (bool): Replace a non-empty ``out_dir``; without it such a
            folder is an error.
        depth (bool): Also write a depth map per scene (see
            :mod:`.depth`): ``depth_maps/{split}/NNNNNN.png``, uint16
            millimetres (``meta.json``'s ``depth_png_scale``: 1000 per
            metre), 0 where there is no depth (sky). The other files are
            the same bytes with or without it.

    The dataset is written whole or not at all (see :mod:`.folder_lock`).
    """
    meta = dataset_meta(*check_args(num_train, num_val, img_size, seed),
                        depth=depth)
    target = osp.realpath(out_dir)      # a symlinked folder stays a link
    _check_target(out_dir, target, overwrite)
    os.makedirs(osp.dirname(target), exist_ok=True)
    with folder_lock(target):
        _check_target(out_dir, target, overwrite)
        write_dataset(target, meta, progress)
    return meta
