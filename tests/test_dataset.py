"""MultiTaskCocoDataset: metainfo, aligned transforms, clear errors on bad data."""
import json
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
import torch
from mmdet.registry import DATASETS

from mmmtl.datasets.synthetic import DET_CLASSES, SEG_CLASSES, STUFF_CLASSES
from mtl_fixtures import dataset_cfg


def build(cfg):
    return DATASETS.build(cfg)


def test_metainfo_keeps_det_and_seg_classes_apart(tiny_data_root):
    ds = build(dataset_cfg(tiny_data_root, 'val'))
    assert ds.metainfo['classes'] == DET_CLASSES
    assert ds.metainfo['seg_classes'] == SEG_CLASSES
    assert len(ds.metainfo['seg_palette']) == len(SEG_CLASSES)
    assert len(ds) == 8


def test_classes_come_from_the_annotation_file(tiny_data_root):
    """Without metainfo, det classes are the JSON's categories and seg
    classes its top-level "seg_classes"."""
    root = tiny_data_root
    with open(osp.join(root, 'annotations/instances_val.json')) as f:
        coco = json.load(f)
    assert coco['seg_classes'] == list(SEG_CLASSES)
    ann = osp.join(root, 'annotations/instances_val.json')
    ds = build(dict(type='MultiTaskCocoDataset', data_root=root,
                    ann_file=ann, data_prefix=dict(img='images/val/',
                                                   seg='seg_maps/val/'),
                    test_mode=True, pipeline=[]))
    assert ds.metainfo['classes'] == DET_CLASSES
    assert ds.metainfo['seg_classes'] == SEG_CLASSES


def test_seg_maps_without_seg_classes_is_an_error(tiny_data_root):
    with open(osp.join(tiny_data_root, 'annotations/instances_val.json')) as f:
        coco = json.load(f)
    coco.pop('seg_classes', None)
    ann = osp.join(tiny_data_root, 'annotations/instances_val_no_seg.json')
    with open(ann, 'w') as f:
        json.dump(coco, f)
    with pytest.raises(ValueError, match='seg_classes'):
        build(dict(type='MultiTaskCocoDataset', data_root=tiny_data_root,
                   ann_file=ann,
                   data_prefix=dict(img='images/val/', seg='seg_maps/val/'),
                   test_mode=True, pipeline=[]))


def _pipeline(flip_prob=0.0, crop=None, scale=None):
    p = [dict(type='LoadImageFromFile'),
         dict(type='LoadMultiTaskAnnotations', with_bbox=True,
              with_seg=True)]
    if scale is not None:
        p.append(dict(type='Resize', scale=scale, keep_ratio=False))
    if crop is not None:
        p.append(dict(type='RandomCrop', crop_size=crop,
                      allow_negative_crop=True))
    p.append(dict(type='RandomFlip', prob=flip_prob))
    p.append(dict(type='PackMultiTaskInputs'))
    return p


def _box_seg_agreement(sample):
    """Fraction of each gt box covered by its class's seg label."""
    seg = sample.gt_sem_seg.sem_seg[0].numpy()
    fractions = []
    for box, label in zip(sample.gt_instances.bboxes.tensor.numpy(),
                          sample.gt_instances.labels.numpy()):
        x1, y1, x2, y2 = np.round(box).astype(int)
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        region = seg[y1:y2, x1:x2]
        fractions.append((region == len(STUFF_CLASSES) + label).mean())
    return fractions


@pytest.mark.parametrize('kind', ['identity', 'flip', 'resize', 'crop'])
def test_boxes_and_seg_map_stay_aligned(tiny_data_root, kind):
    kwargs = dict(identity={}, flip=dict(flip_prob=1.0),
                  resize=dict(scale=(96, 80)),
                  crop=dict(crop=(40, 40)))[kind]
    ds = build(dataset_cfg(tiny_data_root, 'train', pipeline=_pipeline(
        **kwargs)))
    fractions = []
    for i in range(len(ds)):
        item = ds[i]
        sample, img = item['data_samples'], item['inputs']
        assert tuple(sample.gt_sem_seg.sem_seg.shape[-2:]) == \
            tuple(img.shape[-2:])
        assert sample.gt_sem_seg.sem_seg.dtype == torch.uint8
        fractions += _box_seg_agreement(sample)
    # each object's box is mostly filled with its own seg label (shapes
    # such as circles and triangles fill ~50-80% of their box)
    assert len(fractions) > 5
    assert np.median(fractions) > 0.4


def test_flip_mirrors_boxes_and_seg(tiny_data_root):
    plain = build(dataset_cfg(tiny_data_root, 'train',
                              pipeline=_pipeline(0.0)))[0]['data_samples']
    flipped = build(dataset_cfg(tiny_data_root, 'train',
                                pipeline=_pipeline(1.0)))[0]['data_samples']
    w = plain.metainfo['img_shape'][1]
    b0 = plain.gt_instances.bboxes.tensor
    b1 = flipped.gt_instances.bboxes.tensor
    assert torch.allclose(b1[:, 0], w - b0[:, 2])
    assert torch.allclose(b1[:, 2], w - b0[:, 0])
    assert torch.equal(flipped.gt_sem_seg.sem_seg,
                       plain.gt_sem_seg.sem_seg.flip(-1))


def test_seg_labels_reach_the_head_as_int64_with_ignore(tiny_data_root,
                                                        model_cfg):
    """Labels handed to the decode head: int64, padded with the ignore index."""
    from mmdet.registry import MODELS
    from mtl_fixtures import batch_from
    model = MODELS.build(model_cfg)
    ds = build(dataset_cfg(tiny_data_root, 'train', pipeline=_pipeline(
        scale=(60, 50))))          # mmdet scales are (w, h): 50 rows
    data = model.data_preprocessor(batch_from(ds, [0, 1]), True)
    seg_samples = model.tasks['seg']._seg_samples(data['data_samples'])
    label = seg_samples[0].gt_sem_seg.data
    assert label.dtype == torch.int64
    assert tuple(label.shape[-2:]) == tuple(data['inputs'].shape[-2:])
    assert (label[..., 50:, :] == 255).all()   # padded rows are ignored
    assert (label[..., :50, :60] != 255).float().mean() > 0.9


# ---------------------------------------------------------------- bad data
@pytest.fixture
def broken_root(tiny_data_root, tmp_path):
    root = tmp_path / 'broken'
    shutil.copytree(tiny_data_root, root)
    return str(root)


def _first_file(root, sub):
    return sorted(os.listdir(osp.join(root, sub)))[0]


def _load_first(root):
    ds = build(dataset_cfg(root, 'val', pipeline=_pipeline()))
    return ds[0]


def test_missing_image_names_the_file(broken_root):
    name = _first_file(broken_root, 'images/val')
    os.remove(osp.join(broken_root, 'images/val', name))
    with pytest.raises(Exception, match=name):
        _load_first(broken_root)


def test_missing_seg_map_names_the_file(broken_root):
    name = _first_file(broken_root, 'seg_maps/val')
    os.remove(osp.join(broken_root, 'seg_maps/val', name))
    with pytest.raises(FileNotFoundError, match=name):
        _load_first(broken_root)


def test_seg_map_of_another_size_names_the_file(broken_root):
    name = _first_file(broken_root, 'seg_maps/val')
    path = osp.join(broken_root, 'seg_maps/val', name)
    seg = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    cv2.imwrite(path, seg[:-3])
    with pytest.raises(ValueError, match=f'{name}.*61x64.*64x64'):
        _load_first(broken_root)


def test_seg_label_outside_classes_names_file_and_value(broken_root):
    name = _first_file(broken_root, 'seg_maps/val')
    path = osp.join(broken_root, 'seg_maps/val', name)
    seg = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    seg[0, 0] = 42
    seg[1, 1] = 255          # the ignore index is fine
    cv2.imwrite(path, seg)
    with pytest.raises(ValueError, match=rf'{name}.*\[42\]'):
        _load_first(broken_root)


def test_missing_annotation_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.json'):
        build(dict(type='MultiTaskCocoDataset', data_root=str(tmp_path),
                   ann_file='nope.json', pipeline=[],
                   metainfo=dict(classes=DET_CLASSES)))


def test_images_without_seg_file_name_are_detection_only(tiny_data_root,
                                                         tmp_path):
    """Converters name each image's map; a frame without one (BDD100K
    frames without a drivable mask) trains detection only."""
    with open(osp.join(tiny_data_root,
                       'annotations/instances_train.json')) as f:
        coco = json.load(f)
    coco['images'][0]['seg_file_name'] = \
        coco['images'][0]['file_name'][:-4] + '.png'
    ann = str(tmp_path / 'partial.json')
    with open(ann, 'w') as f:
        json.dump(coco, f)
    ds = build(dict(type='MultiTaskCocoDataset', data_root=tiny_data_root,
                    ann_file=ann,
                    data_prefix=dict(img='images/train/',
                                     seg='seg_maps/train/'),
                    pipeline=_pipeline()))
    assert ds.get_data_info(0)['seg_map_path'].endswith('.png')
    assert all(ds.get_data_info(i)['seg_map_path'] is None
               for i in range(1, len(ds)))
    assert 'gt_sem_seg' in ds[0]['data_samples']
    assert 'gt_sem_seg' not in ds[1]['data_samples']
