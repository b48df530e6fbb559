"""tools/dataset_converters/coco_stuff.py on a tiny COCO in its original
layout: instances JSON, COCO-Stuff stuffthingmaps, panoptic JSON + PNGs."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from PIL import Image

# stuffthingmaps value (COCO-Stuff id - 1) -> expected train id, by hand:
# things keep their rank among the 80 used COCO ids, stuff 92..182 -> 80..170
STUFF_EXPECTED = {
    0: 0,      # person
    1: 1,      # bicycle
    10: 10,    # fire hydrant (id 11)
    11: 255,   # id 12 (street sign) is unused
    12: 11,    # stop sign (id 13)
    24: 23,    # giraffe (id 25)
    25: 255,   # id 26 unused
    26: 24,    # backpack (id 27)
    66: 60,    # dining table (id 67): ids 1..67 minus the 6 unused below
               # 67 (12, 26, 29, 30, 45, 66) -> 61st thing
    89: 79,    # toothbrush (id 90)
    90: 255,   # id 91 unused
    91: 80,    # banner (id 92)
    92: 81,    # blanket
    181: 170,  # wood (id 182)
    182: 255,  # 'other' (id 183)
    200: 255,
    255: 255,  # unlabeled
}

IMAGES = {  # split -> [(id, file_name, height, width)]
    'train': [(1, '000000000001.jpg', 30, 40), (2, '000000000002.jpg', 24, 32),
              (3, '000000000003.jpg', 20, 20)],
    'val': [(10, '000000000010.jpg', 16, 24)],
}


def stuff_map(h, w, seed):
    """A map cycling through all test values (columns), shuffled rows."""
    values = np.array(sorted(STUFF_EXPECTED), np.uint8)
    rng = np.random.default_rng(seed)
    return values[rng.integers(0, len(values), (h, w))]


# panoptic: categories deliberately NOT sorted by id (train ids follow the
# JSON order); segment id -> category id per image
PAN_CATEGORIES = [
    dict(id=1, name='person', isthing=1, supercategory='person'),
    dict(id=3, name='car', isthing=1, supercategory='vehicle'),
    dict(id=187, name='sky-other-merged', isthing=0, supercategory='sky'),
    dict(id=149, name='road', isthing=0, supercategory='ground'),
]
PAN_SEGMENTS = {
    1: {5: 1, 300: 3, 65536 * 1 + 3: 149, 1234567: 187, 2000: 1},
    2: {7: 3, 9: 187},
    10: {70000: 149, 11: 1},
}
PAN_CROWD = {2000}
UNKNOWN_SEGMENT = 999  # in the PNG, not in segments_info -> 255


def pan_ids(h, w, img_id, seed):
    ids = np.array([0, UNKNOWN_SEGMENT] + list(PAN_SEGMENTS[img_id]),
                   np.int64)
    rng = np.random.default_rng(seed)
    return ids[rng.integers(0, len(ids), (h, w))]


def pan_expected(seg_ids, img_id):
    order = {c['id']: i for i, c in enumerate(PAN_CATEGORIES)}
    out = np.full(seg_ids.shape, 255, np.uint8)
    for sid, cat in PAN_SEGMENTS[img_id].items():
        out[seg_ids == sid] = order[cat]
    return out


@pytest.fixture
def coco_root(tmp_path, load_converter):
    things = load_converter('coco_stuff').COCO_THING_CLASSES
    root = tmp_path / 'coco'
    (root / 'annotations').mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, images in IMAGES.items():
        tag = f'{split}2017'
        (root / tag).mkdir()
        (root / 'stuffthingmaps_trainval2017' / tag).mkdir(parents=True)
        (root / 'annotations' / f'panoptic_{tag}').mkdir()
        anns, pan_anns = [], []
        for k, (img_id, name, h, w) in enumerate(images):
            cv2.imwrite(str(root / tag / name),
                        rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
            anns.append(dict(
                id=100 + img_id, image_id=img_id,
                category_id=[1, 3, 90][k % 3],
                bbox=[1.0, 2.0, 5.5, 6.0], area=33.0, iscrowd=0,
                segmentation=[[1, 2, 6.5, 2, 6.5, 8, 1, 8]]))
            stem = name[:-4]
            if img_id == 3:   # no semantic map for image 3
                continue
            Image.fromarray(stuff_map(h, w, img_id)).save(
                root / 'stuffthingmaps_trainval2017' / tag / f'{stem}.png')
            seg_ids = pan_ids(h, w, img_id, img_id)
            rgb = np.stack([seg_ids % 256, seg_ids // 256 % 256,
                            seg_ids // 65536], -1).astype(np.uint8)
            Image.fromarray(rgb, 'RGB').save(
                root / 'annotations' / f'panoptic_{tag}' / f'{stem}.png')
            pan_anns.append(dict(
                image_id=img_id, file_name=f'{stem}.png',
                segments_info=[dict(id=sid, category_id=cat,
                                    iscrowd=int(sid in PAN_CROWD),
                                    bbox=[0, 0, 1, 1], area=1)
                               for sid, cat in PAN_SEGMENTS[img_id].items()]))
        image_entries = [dict(id=i, file_name=n, height=h, width=w, license=1)
                         for i, n, h, w in images]
        instances = dict(
            info=dict(description='tiny COCO'), licenses=[],
            images=image_entries, annotations=anns,
            categories=[dict(id=i, name=n, supercategory='x')
                        for i, n in things])
        with open(root / 'annotations' / f'instances_{tag}.json', 'w') as f:
            json.dump(instances, f)
        with open(root / 'annotations' / f'panoptic_{tag}.json', 'w') as f:
            json.dump(dict(images=image_entries, annotations=pan_anns,
                           categories=PAN_CATEGORIES), f)
    return str(root)


def _load(path):
    with open(path) as f:
        return json.load(f)


def test_coco_stuffthingmaps(coco_root, tmp_path, load_converter,
                             check_coco_output):
    conv = load_converter('coco_stuff')
    out = str(tmp_path / 'ann')
    summary = conv.convert(coco_root, out, splits=['train', 'val'],
                           source='stuffthingmaps')
    assert summary['train']['images_without_seg'] == 1
    assert summary['train']['images_with_seg'] == 2
    assert summary['val']['images_without_seg'] == 0
    for split, images in IMAGES.items():
        tag = f'{split}2017'
        ann_file = osp.join(out, f'instances_{tag}_mmmtl.json')
        seg_root = osp.join(coco_root, 'stuffthingmaps_trainval2017', tag)
        coco = check_coco_output(ann_file, osp.join(coco_root, tag), seg_root)
        seg_classes = coco.dataset['seg_classes']
        assert len(seg_classes) == 171
        assert seg_classes[0] == 'person' and seg_classes[79] == 'toothbrush'
        assert seg_classes[60] == 'dining table'
        assert seg_classes[80] == 'banner' and seg_classes[170] == 'wood'
        # instances unchanged apart from seg_file_name
        src = _load(osp.join(coco_root, 'annotations',
                             f'instances_{tag}.json'))
        assert coco.dataset['annotations'] == src['annotations']
        assert coco.dataset['categories'] == src['categories']
        assert coco.dataset['info'] == src['info']
        for img, src_img in zip(coco.dataset['images'], src['images']):
            assert {k: v for k, v in img.items()
                    if k != 'seg_file_name'} == src_img
            stem = img['file_name'][:-4]
            if img['id'] == 3:
                assert 'seg_file_name' not in img
                continue
            assert img['seg_file_name'] == f'{stem}_labelTrainIds.png'
            seg = cv2.imread(osp.join(seg_root, img['seg_file_name']),
                             cv2.IMREAD_UNCHANGED)
            raw = stuff_map(img['height'], img['width'], img['id'])
            expected = np.vectorize(STUFF_EXPECTED.get)(raw).astype(np.uint8)
            np.testing.assert_array_equal(seg, expected)


def test_coco_panoptic(coco_root, tmp_path, load_converter,
                       check_coco_output):
    conv = load_converter('coco_stuff')
    summary = conv.main(['--root', coco_root, '--source', 'panoptic',
                         '--splits', 'train', 'val', '--nproc', '2'])
    assert summary['train']['images_without_seg'] == 1
    assert summary['train']['unknown_segment_pixels'] > 0
    for split, images in IMAGES.items():
        tag = f'{split}2017'
        ann_file = osp.join(coco_root, 'annotations',
                            f'instances_{tag}_mmmtl.json')
        seg_root = osp.join(coco_root, 'panoptic_semseg', tag)
        coco = check_coco_output(ann_file, osp.join(coco_root, tag), seg_root)
        assert coco.dataset['seg_classes'] == [c['name']
                                               for c in PAN_CATEGORIES]
        for img in coco.dataset['images']:
            if img['id'] == 3:
                assert 'seg_file_name' not in img
                continue
            seg = cv2.imread(osp.join(seg_root, img['seg_file_name']),
                             cv2.IMREAD_UNCHANGED)
            seg_ids = pan_ids(img['height'], img['width'], img['id'],
                              img['id'])
            expected = pan_expected(seg_ids, img['id'])
            np.testing.assert_array_equal(seg, expected)
            assert (seg[seg_ids == 0] == 255).all()
            assert (seg[seg_ids == UNKNOWN_SEGMENT] == 255).all()
            if img['id'] == 1:   # road: id 65539 needs the B channel
                assert (seg[seg_ids == 65539] == 3).all()
                assert (seg[seg_ids == 2000] == 0).all()  # crowd: person


def test_coco_reuse_and_overwrite(coco_root, tmp_path, load_converter):
    conv = load_converter('coco_stuff')
    out = str(tmp_path / 'ann')
    conv.convert(coco_root, out, splits=['val'], source='panoptic')
    s = conv.convert(coco_root, out, splits=['val'], source='panoptic')
    assert s['val']['seg_reused'] == 1 and s['val']['seg_written'] == 0
    s = conv.convert(coco_root, out, splits=['val'], source='panoptic',
                     overwrite=True)
    assert s['val']['seg_written'] == 1


def test_coco_bad_layout(coco_root, tmp_path, load_converter):
    conv = load_converter('coco_stuff')
    out = str(tmp_path / 'ann')
    os.remove(osp.join(coco_root, 'annotations', 'panoptic_val2017.json'))
    with pytest.raises(FileNotFoundError,
                       match='annotations/panoptic_val2017.json'):
        conv.convert(coco_root, out, splits=['val'], source='panoptic')
    os.rename(osp.join(coco_root, 'stuffthingmaps_trainval2017'),
              osp.join(coco_root, 'stuffthingmaps'))
    with pytest.raises(FileNotFoundError,
                       match='stuffthingmaps_trainval2017/val2017'):
        conv.convert(coco_root, out, splits=['val'])
    with pytest.raises(FileNotFoundError, match='test2017'):
        conv.convert(coco_root, out, splits=['test'])
    with pytest.raises(ValueError, match='source'):
        conv.convert(coco_root, out, splits=['val'], source='ade')


def test_coco_map_of_wrong_size(coco_root, tmp_path, load_converter):
    conv = load_converter('coco_stuff')
    path = osp.join(coco_root, 'stuffthingmaps_trainval2017', 'val2017',
                    '000000000010.png')
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(path)
    with pytest.raises(ValueError, match='000000000010.png'):
        conv.convert(coco_root, str(tmp_path / 'a'), splits=['val'])
