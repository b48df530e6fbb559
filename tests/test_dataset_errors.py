"""Bad data is named (file, annotation id), or skipped with a count."""
import json
import os
import os.path as osp
import shutil

import cv2
import pytest
from mmdet.registry import DATASETS

from mtl_fixtures import captured_log

VAL_JSON = 'annotations/instances_val.json'


@pytest.fixture
def root(tiny_data_root, tmp_path):
    copy = tmp_path / 'data'
    shutil.copytree(tiny_data_root, copy)
    return str(copy)


@pytest.fixture
def warnings(monkeypatch):
    """The messages logged from now on."""
    return captured_log(monkeypatch)


def _coco(root):
    with open(osp.join(root, VAL_JSON)) as f:
        return json.load(f)


def _build(root, coco=None, **kwargs):
    ann_file = osp.join(root, VAL_JSON)
    if coco is not None:
        ann_file = osp.join(root, 'annotations/edited.json')
        with open(ann_file, 'w') as f:
            json.dump(coco, f)
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='LoadMultiTaskAnnotations', with_bbox=True),
                dict(type='PackMultiTaskInputs')]
    return DATASETS.build(dict(
        type='MultiTaskCocoDataset', data_root=root, ann_file=ann_file,
        data_prefix=dict(img='images/val/', seg='seg_maps/val/'),
        pipeline=pipeline, test_mode=True, **kwargs))


def _truncate(path):
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


# ------------------------------------------------------------- files
def test_truncated_seg_map_names_the_file(root):
    name = sorted(os.listdir(osp.join(root, 'seg_maps/val')))[0]
    _truncate(osp.join(root, 'seg_maps/val', name))
    with pytest.raises(ValueError, match=f'{name} could not be decoded'):
        _build(root)[0]


def test_truncated_image_names_the_file(root):
    name = _coco(root)['images'][0]['file_name']
    _truncate(osp.join(root, 'images/val', name))
    with pytest.raises(Exception, match=name):
        _build(root)[0]


def test_image_of_another_size_than_its_entry_names_both(root):
    name = _coco(root)['images'][0]['file_name']
    path = osp.join(root, 'images/val', name)
    cv2.imwrite(path, cv2.imread(path)[:, :48])
    with pytest.raises(ValueError, match=f'{name} is 64x48.*says 64x64'):
        _build(root)[0]


# ------------------------------------------------------ annotation file
def test_unknown_category_names_annotation_and_image(root):
    coco = _coco(root)
    coco['annotations'][2]['category_id'] = 9
    ann = coco['annotations'][2]
    image = next(i for i in coco['images'] if i['id'] == ann['image_id'])
    with pytest.raises(ValueError, match=rf'annotation {ann["id"]} of image '
                       rf'{image["file_name"]} has category id 9'):
        _build(root, coco)


def test_annotation_of_a_missing_image_is_an_error(root):
    coco = _coco(root)
    coco['annotations'][0]['image_id'] = 999
    with pytest.raises(ValueError, match='refers to image id 999'):
        _build(root, coco)


@pytest.mark.parametrize('key', ['id', 'file_name'])
def test_image_listed_twice_is_an_error(root, key):
    coco = _coco(root)
    twin = dict(coco['images'][0])
    if key == 'file_name':
        twin['id'] = 1000
    coco['images'].append(twin)
    with pytest.raises(ValueError, match='listed more than once'):
        _build(root, coco)


def test_annotation_id_used_twice_is_an_error(root):
    coco = _coco(root)
    coco['annotations'][5]['id'] = coco['annotations'][0]['id']
    with pytest.raises(ValueError, match=r'annotation ids \[1\]'):
        _build(root, coco)


def _bad_boxes(coco):
    """Four defects in the first image's boxes (x, y, w, h)."""
    anns = coco['annotations']
    anns[0]['bbox'] = [float('nan'), 8, 27, 34]
    anns[1]['bbox'] = [13, 36, 0, 19]
    anns[3]['bbox'] = [13, 36, -5, 19]
    anns[4]['bbox'] = [100, 8, 10, 10]   # right of the 64x64 image
    return [a['id'] for a in (anns[0], anns[1], anns[3], anns[4])]


def test_bad_boxes_are_skipped_with_one_warning_of_counts(root, warnings):
    coco = _coco(root)
    _bad_boxes(coco)
    ds = _build(root, coco)
    full = _build(root)
    assert sum(len(ds.get_data_info(i)['instances']) for i in range(len(ds))
               ) == len(coco['annotations']) - 4
    assert len(full.get_data_info(0)['instances']) == 3
    assert len(warnings) == 1, warnings
    msg = warnings[0]
    assert 'skipped 4 annotations' in msg
    for part in ('1 with NaN/inf coordinates', '2 of zero or negative size',
                 '1 outside the image', 'annotation 1 of image 000000.jpg'):
        assert part in msg, msg


def test_strict_makes_a_skipped_box_an_error(root):
    coco = _coco(root)
    _bad_boxes(coco)
    with pytest.raises(ValueError, match=r'annotation 1 of image 000000.jpg'
                       r': box \[nan, 8, 27, 34\] with NaN'):
        _build(root, coco, strict=True)


def test_a_class_subset_is_counted_but_not_an_error(root, warnings):
    ds = _build(root, strict=True,
                metainfo=dict(classes=('circle', 'square')))
    labels = {inst['bbox_label'] for i in range(len(ds))
              for inst in ds.get_data_info(i)['instances']}
    assert labels == {0, 1}
    assert 'not in metainfo["classes"]' in warnings[0]


def test_file_without_annotations_trains_negatives_and_says_so(root,
                                                              warnings):
    coco = _coco(root)
    coco['annotations'] = []
    ds = _build(root, coco)
    assert len(ds) == len(coco['images'])
    assert all(ds.get_data_info(i)['has_det']
               and ds.get_data_info(i)['instances'] == []
               for i in range(len(ds)))
    assert 'has no annotations' in warnings[0]
