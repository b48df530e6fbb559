"""The synthetic dataset: deterministic, self-consistent, varied; its CLI."""
import hashlib
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmmtl.datasets.synthetic import (DET_CLASSES, IGNORE_INDEX,
                                      SEG_CLASSES, STUFF_CLASSES,
                                      ensure_synthetic_dataset,
                                      generate_synthetic_dataset)
from mtl_fixtures import REPO


def _digest(root):
    h = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(root)):
        for f in sorted(files):
            with open(osp.join(dirpath, f), 'rb') as fh:
                h.update(f.encode() + fh.read())
    return h.hexdigest()


@pytest.fixture(scope='module')
def small(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('syn') / 'a')
    generate_synthetic_dataset(root, num_train=24, num_val=4,
                               img_size=(96, 80), seed=1, progress=False)
    return root


def test_same_seed_same_bytes_other_seed_other_bytes(small, tmp_path):
    again = str(tmp_path / 'again')
    other = str(tmp_path / 'other')
    generate_synthetic_dataset(again, 24, 4, (96, 80), seed=1,
                               progress=False)
    generate_synthetic_dataset(other, 24, 4, (96, 80), seed=2,
                               progress=False)
    assert _digest(again) == _digest(small)
    assert _digest(other) != _digest(small)


def test_boxes_masks_and_seg_map_agree(small):
    with open(osp.join(small, 'annotations/instances_train.json')) as f:
        coco = json.load(f)
    assert [c['name'] for c in coco['categories']] == list(DET_CLASSES)
    assert coco['seg_classes'] == list(SEG_CLASSES)
    anns = {}
    for a in coco['annotations']:
        anns.setdefault(a['image_id'], []).append(a)
    for img in coco['images']:
        seg = cv2.imread(osp.join(small, 'seg_maps/train',
                                  img['file_name'][:-4] + '.png'),
                         cv2.IMREAD_UNCHANGED)
        image = cv2.imread(osp.join(small, 'images/train', img['file_name']))
        assert seg.shape == image.shape[:2] == (img['height'], img['width'])
        values = set(np.unique(seg).tolist())
        assert values <= set(range(len(SEG_CLASSES))) | {IGNORE_INDEX}
        object_pixels = np.zeros(seg.shape, bool)
        for a in anns.get(img['id'], []):
            m = mask_utils.decode(a['segmentation']).astype(bool)
            label = len(STUFF_CLASSES) + a['category_id'] - 1
            assert (seg[m] == label).all()
            ys, xs = np.nonzero(m)
            assert a['bbox'] == [xs.min(), ys.min(), xs.max() - xs.min() + 1,
                                 ys.max() - ys.min() + 1]
            assert a['area'] == m.sum()
            object_pixels |= m
        # every object pixel of the seg map belongs to an annotation
        is_object = (seg >= len(STUFF_CLASSES)) & (seg != IGNORE_INDEX)
        assert (is_object == object_pixels).all()


def test_scenes_are_varied_with_occlusion(small):
    from mmmtl.datasets.synthetic import render_scene
    with open(osp.join(small, 'annotations/instances_train.json')) as f:
        coco = json.load(f)
    cats = {a['category_id'] for a in coco['annotations']}
    assert cats == {1, 2, 3, 4}
    stuff = set()
    for name in os.listdir(osp.join(small, 'seg_maps/train')):
        seg = cv2.imread(osp.join(small, 'seg_maps/train', name),
                         cv2.IMREAD_UNCHANGED)
        stuff |= set(np.unique(seg[seg < len(STUFF_CLASSES)]).tolist())
    assert stuff == set(range(len(STUFF_CLASSES)))
    # occlusion: some annotated object is smaller than its full shape, i.e.
    # overlapping objects are common (the fraction of images with a box
    # overlap is a proxy that needs no access to the full masks)
    overlaps = 0
    by_img = {}
    for a in coco['annotations']:
        by_img.setdefault(a['image_id'], []).append(a['bbox'])
    for boxes in by_img.values():
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                (x1, y1, w1, h1), (x2, y2, w2, h2) = boxes[i], boxes[j]
                if min(x1 + w1, x2 + w2) > max(x1, x2) and \
                        min(y1 + h1, y2 + h2) > max(y1, y2):
                    overlaps += 1
    assert overlaps >= 2
    sizes = [max(a['bbox'][2:]) for a in coco['annotations']]
    assert min(sizes) < 20 and max(sizes) > 35      # varied scale


def test_ensure_is_a_no_op_then_regenerates_on_new_args(tmp_path):
    root = str(tmp_path / 'e')
    ensure_synthetic_dataset(root, num_train=3, num_val=2, img_size=64,
                             progress=False)
    meta = osp.join(root, 'meta.json')
    mtime = os.stat(meta).st_mtime_ns
    ensure_synthetic_dataset(root, num_train=3, num_val=2, img_size=64,
                             progress=False)
    assert os.stat(meta).st_mtime_ns == mtime
    ensure_synthetic_dataset(root, num_train=4, num_val=2, img_size=64,
                             progress=False)
    assert len(os.listdir(osp.join(root, 'images/train'))) == 4
    # no temporary folders left beside it
    assert [d for d in os.listdir(tmp_path) if d.startswith('.synthetic')] \
        == []


def _cli(*args):
    return subprocess.run(
        [sys.executable, osp.join(REPO, 'tools/generate_synthetic_data.py'),
         *args], capture_output=True, text=True)


def test_cli_writes_and_rejects_bad_arguments(tmp_path):
    out = str(tmp_path / 'cli')
    r = _cli('--out-dir', out, '--num-train', '2', '--num-val', '1',
             '--img-size', '48', '64')
    assert r.returncode == 0, r.stderr
    assert 'wrote 2 train and 1 val' in r.stdout
    img = cv2.imread(osp.join(out, 'images/train/000000.jpg'))
    assert img.shape[:2] == (48, 64)
    r = _cli('--out-dir', out, '--num-train', '2', '--num-val', '1')
    assert r.returncode != 0 and '--overwrite' in r.stderr
    r = _cli('--out-dir', out, '--img-size', '16')
    assert r.returncode != 0 and 'at least 32' in r.stderr
    r = _cli('--out-dir', out, '--num-train', '0')
    assert r.returncode != 0 and '--num-train' in r.stderr
