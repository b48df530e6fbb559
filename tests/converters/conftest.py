"""Fixtures for the dataset-converter tests: load a converter from its file,
and check a converted COCO JSON against the files it points to."""
import importlib.util
import os.path as osp
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONVERTER_DIR = osp.join(REPO, 'tools', 'dataset_converters')


def _load_converter(name):
    mod_name = f'mmmtl_converter_{name}'
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    spec = importlib.util.spec_from_file_location(
        mod_name, osp.join(CONVERTER_DIR, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    # registered so that multiprocessing workers (fork) can unpickle its
    # functions by name
    sys.modules[mod_name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def load_converter():
    return _load_converter


def _check_coco_output(ann_file, img_root, seg_root):
    """Common checks of a converter's output; returns the COCO object.

    The JSON loads with pycocotools, every file_name is an existing image,
    every seg_file_name an existing single-channel uint8 map of the image's
    size with ids in 0..len(seg_classes)-1 or 255.
    """
    from pycocotools.coco import COCO
    coco = COCO(ann_file)
    seg_classes = coco.dataset['seg_classes']
    assert len(seg_classes) == len(set(seg_classes))
    for img in coco.dataset['images']:
        img_path = osp.join(img_root, img['file_name'])
        assert osp.isfile(img_path), img_path
        with Image.open(img_path) as im:
            assert im.size == (img['width'], img['height'])
        if 'seg_file_name' in img:
            seg_path = osp.join(seg_root, img['seg_file_name'])
            assert osp.isfile(seg_path), seg_path
            seg = cv2.imread(seg_path, cv2.IMREAD_UNCHANGED)
            assert seg.dtype == np.uint8 and seg.ndim == 2
            assert seg.shape == (img['height'], img['width'])
            values = np.unique(seg)
            assert ((values < len(seg_classes)) | (values == 255)).all()
    for ann in coco.dataset['annotations']:
        assert ann['category_id'] in coco.cats
        assert ann['image_id'] in coco.imgs
        assert len(ann['bbox']) == 4 and ann['bbox'][2] > 0 \
            and ann['bbox'][3] > 0
        assert ann['iscrowd'] in (0, 1)
    return coco


@pytest.fixture(scope='session')
def check_coco_output():
    return _check_coco_output
