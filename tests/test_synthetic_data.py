"""The synthetic dataset: deterministic, self-consistent, varied; its CLI."""
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmmtl.datasets.synthetic import (DET_CLASSES, DET_PALETTE, IGNORE_INDEX,
                                      MAX_DEPTH_M, SEG_CLASSES, SEG_PALETTE,
                                      SPLITS, STUFF_CLASSES,
                                      ensure_synthetic_dataset,
                                      generate_synthetic_dataset,
                                      render_scene, scene_rng)
from mmmtl.datasets.synthetic.depth import ground_depth

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SIZE = (96, 80)
NUM_TRAIN, NUM_VAL = 20, 4


def _files(root):
    """{relative path: bytes} of every file under ``root``."""
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path, root)] = f.read()
    return out


def _load(root, split):
    with open(osp.join(root, f'annotations/instances_{split}.json')) as f:
        return json.load(f)


def _seg(root, split, file_name):
    return cv2.imread(osp.join(root, 'seg_maps', split,
                               osp.splitext(file_name)[0] + '.png'),
                      cv2.IMREAD_UNCHANGED)


@pytest.fixture(scope='module')
def small(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('syn') / 'a')
    generate_synthetic_dataset(root, num_train=NUM_TRAIN, num_val=NUM_VAL,
                               img_size=SIZE, seed=1, progress=False)
    return root


def test_layout_and_meta(small):
    with open(osp.join(small, 'meta.json')) as f:
        meta = json.load(f)
    assert meta['det_classes'] == list(DET_CLASSES)
    assert meta['seg_classes'] == list(STUFF_CLASSES + DET_CLASSES)
    assert meta['seg_palette'] == [list(c) for c in SEG_PALETTE]
    assert meta['det_palette'] == [list(c) for c in DET_PALETTE]
    assert (meta['num_train'], meta['num_val'], meta['img_size'],
            meta['seed']) == (NUM_TRAIN, NUM_VAL, list(SIZE), 1)
    assert len(set(map(tuple, SEG_PALETTE))) == len(SEG_CLASSES)
    for split, num in zip(SPLITS, (NUM_TRAIN, NUM_VAL)):
        coco = _load(small, split)
        assert coco['categories'] == [
            dict(id=i + 1, name=n, supercategory='shape')
            for i, n in enumerate(DET_CLASSES)]
        assert coco['seg_classes'] == list(SEG_CLASSES)
        names = [f'{i:06d}.jpg' for i in range(num)]
        assert [im['file_name'] for im in coco['images']] == names
        assert sorted(os.listdir(osp.join(small, 'images', split))) == names
        assert sorted(os.listdir(osp.join(small, 'seg_maps', split))) == \
            [n[:-4] + '.png' for n in names]
        ids = [a['id'] for a in coco['annotations']]
        assert len(set(ids)) == len(ids)


def test_same_seed_same_bytes_other_seed_other_bytes(small, tmp_path):
    again = str(tmp_path / 'again')
    other = str(tmp_path / 'other')
    generate_synthetic_dataset(again, NUM_TRAIN, NUM_VAL, SIZE, seed=1,
                               progress=False)
    generate_synthetic_dataset(other, NUM_TRAIN, NUM_VAL, SIZE, seed=2,
                               progress=False)
    a, b, c = _files(small), _files(again), _files(other)
    assert any(k.endswith('.jpg') for k in a)
    assert a == b                       # json, png and jpg bytes
    assert a.keys() == c.keys()
    differ = [k for k in a if a[k] != c[k]]
    assert any(k.endswith('.jpg') for k in differ)
    assert any(k.endswith('.png') for k in differ)
    assert 'annotations/instances_train.json' in differ
    # train and val are different scenes
    assert a['images/train/000000.jpg'] != a['images/val/000000.jpg']


@pytest.mark.parametrize('split', SPLITS)
def test_boxes_masks_and_seg_map_agree(small, split):
    coco = _load(small, split)
    anns = {}
    for a in coco['annotations']:
        anns.setdefault(a['image_id'], []).append(a)
    for img in coco['images']:
        seg = _seg(small, split, img['file_name'])
        image = cv2.imread(osp.join(small, 'images', split,
                                    img['file_name']), cv2.IMREAD_UNCHANGED)
        assert image.dtype == np.uint8 and image.ndim == 3
        assert seg.dtype == np.uint8 and seg.ndim == 2
        assert seg.shape == image.shape[:2] == (img['height'], img['width'])
        assert set(np.unique(seg).tolist()) <= \
            set(range(len(SEG_CLASSES))) | {IGNORE_INDEX}
        object_pixels = np.zeros(seg.shape, bool)
        for a in anns.get(img['id'], []):
            assert 1 <= a['category_id'] <= len(DET_CLASSES)
            assert a['iscrowd'] == 0
            assert isinstance(a['segmentation']['counts'], str)
            m = mask_utils.decode(a['segmentation']).astype(bool)
            assert m.shape == seg.shape
            label = len(STUFF_CLASSES) + a['category_id'] - 1
            assert (seg[m] == label).all()
            ys, xs = np.nonzero(m)
            assert a['bbox'] == [xs.min(), ys.min(), xs.max() - xs.min() + 1,
                                 ys.max() - ys.min() + 1]
            assert a['area'] == m.sum() >= 30
            assert not (object_pixels & m).any()    # visible parts only
            object_pixels |= m
        # every object pixel of the seg map belongs to an annotation
        is_object = (seg >= len(STUFF_CLASSES)) & (seg != IGNORE_INDEX)
        assert (is_object == object_pixels).all()


def test_images_are_rgb(small):
    """cv2 writes BGR: the stored jpg, read back as RGB, has a blue sky /
    water and green grass."""
    coco = _load(small, 'train')
    means = {c: [] for c in range(len(STUFF_CLASSES))}
    for img in coco['images']:
        bgr = cv2.imread(osp.join(small, 'images/train', img['file_name']))
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(float)
        seg = _seg(small, 'train', img['file_name'])
        for c in means:
            if (seg == c).sum() > 50:
                means[c].append(rgb[seg == c].mean(0))
    sky, grass, water = (np.mean(means[c], 0) for c in range(3))
    assert sky[2] > sky[0] + 40 and water[2] > water[0] + 40
    assert grass[1] > grass[0] + 40 and grass[1] > grass[2] + 40


def test_written_files_are_the_rendered_scenes(small):
    """Annotations are exactly the visible masks of render_scene's kept
    objects; dropped ones are ignored (255) in the seg map."""
    coco = _load(small, 'val')
    for img in coco['images']:
        i = img['id'] - 1
        _, seg, objects, _ = render_scene(*SIZE, scene_rng(1, 'val', i))
        assert (seg == _seg(small, 'val', img['file_name'])).all()
        anns = [a for a in coco['annotations'] if a['image_id'] == img['id']]
        kept = [o for o in objects if o['annotated']]
        assert [a['category_id'] for a in anns] == \
            [o['category_id'] for o in kept]
        for a, o in zip(anns, kept):
            assert (mask_utils.decode(a['segmentation']) == o['mask']).all()
        for o in objects:
            if not o['annotated']:
                assert (seg[o['mask']] == IGNORE_INDEX).all()


def test_scenes_are_varied_with_occlusion():
    h, w = 96, 96
    cats, stuff, counts, sizes = set(), set(), [], []
    overlapping = occluded = dropped = 0
    for i in range(20):
        img, seg, objects, _ = render_scene(h, w, scene_rng(0, 'train', i))
        assert img.shape == (h, w, 3) and seg.shape == (h, w)
        present = set(np.unique(seg[seg < len(STUFF_CLASSES)]).tolist())
        assert 1 <= len(present) <= 4
        stuff |= present
        cats |= {o['category_id'] for o in objects if o['annotated']}
        counts.append(len(objects))
        full = [o['full'] for o in objects]
        overlapping += any((full[a] & full[b]).any()
                           for a in range(len(full))
                           for b in range(a + 1, len(full)))
        for o in objects:
            occluded += bool(o['annotated'] and o['mask'].sum() <
                             (o['full'].sum()))
            dropped += not o['annotated']
            if o['annotated']:
                ys, xs = np.nonzero(o['full'])
                sizes.append(max(np.ptp(ys), np.ptp(xs)) + 1)
    assert cats == set(range(1, len(DET_CLASSES) + 1))
    assert stuff == set(range(len(STUFF_CLASSES)))
    assert min(counts) >= 1 and max(counts) <= 6 and len(set(counts)) >= 4
    assert overlapping >= 3 and occluded >= 3
    assert min(sizes) <= 16 and max(sizes) >= 40     # varied scale
    # not trivial: the same class looks different from image to image
    grass = []
    for i in range(20):
        img, seg, _, _ = render_scene(h, w, scene_rng(0, 'train', i))
        if (seg == 1).sum() > 100:
            grass.append(img[seg == 1].mean(0))
    assert np.ptp(np.array(grass)[:, 1]) > 15


def test_depth_maps_are_opt_in_and_leave_the_rest_unchanged(small,
                                                           tmp_path):
    with_depth = str(tmp_path / 'd')
    generate_synthetic_dataset(with_depth, NUM_TRAIN, NUM_VAL, SIZE, seed=1,
                               progress=False, depth=True)
    plain, deep = _files(small), _files(with_depth)
    added = sorted(set(deep) - set(plain))
    assert added == sorted(f'depth_maps/{split}/{i:06d}.png'
                           for split, num in zip(SPLITS, (NUM_TRAIN, NUM_VAL))
                           for i in range(num))
    assert {k: v for k, v in deep.items() if k not in added and
            k != 'meta.json'} == {k: v for k, v in plain.items()
                                  if k != 'meta.json'}
    with open(osp.join(with_depth, 'meta.json')) as f:
        meta = json.load(f)
    assert meta.pop('depth_png_scale') == 1000
    assert meta == json.loads(plain['meta.json'])
    depth = cv2.imread(osp.join(with_depth, 'depth_maps/val/000000.png'),
                       cv2.IMREAD_UNCHANGED)
    assert depth.dtype == np.uint16 and depth.shape == SIZE
    scene = render_scene(*SIZE, scene_rng(1, 'val', 0))
    assert (depth == np.round(scene.depth * 1000)).all()


def test_ground_depth_by_hand():
    """h = 100 px (focal length), camera 1.5 m up, horizon at row 40: the
    ground at row 59 (centre 59.5) is 1.5 * 100 / 19.5 = 7.6923 m away;
    rows at or above the horizon, and nearer than 1.5 * 100 / 50 = 3 m to
    it, are capped at 50 m."""
    z = ground_depth(np.array([59.0, 99.0, 40.0, 10.0, 42.0]), 100, 40.0)
    assert np.allclose(z, [150 / 19.5, 150 / 59.5, 50.0, 50.0, 50.0])


def test_depth_is_layered_objects_over_a_receding_ground():
    checked_ground = checked_pairs = 0
    for i in range(20):
        scene = render_scene(96, 96, scene_rng(0, 'train', i))
        depth, seg, objects = scene.depth, scene.seg, scene.objects
        covered = np.zeros(seg.shape, bool)
        for o in objects:
            covered |= o['full']
        # the sky has no depth; the ground recedes upwards, row by row
        assert (depth[(seg == 0) & ~covered] == 0).all()
        ground = (seg > 0) & (seg < len(STUFF_CLASSES)) & ~covered
        for col in range(96):
            rows = np.nonzero(ground[:, col])[0]
            assert (np.diff(depth[rows, col]) <= 0).all()
        assert depth.max() <= MAX_DEPTH_M
        # an object: one depth, NEAR_FACTOR (0.9) times the ground's at
        # its lowest row at most, and nearer than the objects it covers
        owner = np.full(seg.shape, -1)
        for k, o in enumerate(objects):
            owner[o['full']] = k
        zs = []
        for k, o in enumerate(objects):
            visible = depth[owner == k]
            zs.append(float(visible.max()) if visible.size else None)
            if not visible.size:
                continue
            assert np.ptp(visible) == 0
            lowest = np.nonzero(o['full'].any(1))[0].max()
            ground_there = depth[lowest][ground[lowest]]
            if ground_there.size:
                assert zs[k] <= 0.9 * ground_there[0] + 1e-9
                checked_ground += 1
        for k, o in enumerate(objects):
            for j in range(k):
                if (o['full'] & objects[j]['full']).any() and \
                        None not in (zs[k], zs[j]):
                    assert zs[k] < zs[j]
                    checked_pairs += 1
    assert checked_ground >= 10 and checked_pairs >= 3


def test_ensure_is_a_no_op_then_regenerates_on_new_args(tmp_path):
    root = str(tmp_path / 'e')
    assert ensure_synthetic_dataset(root, num_train=3, num_val=2,
                                    img_size=64, progress=False) == root
    meta = osp.join(root, 'meta.json')
    mtime = os.stat(meta).st_mtime_ns
    first = _files(root)
    ensure_synthetic_dataset(root, num_train=3, num_val=2,
                             img_size=(64, 64), progress=False)
    assert os.stat(meta).st_mtime_ns == mtime
    ensure_synthetic_dataset(root, num_train=4, num_val=2, img_size=64,
                             progress=False)
    assert len(os.listdir(osp.join(root, 'images/train'))) == 4
    ensure_synthetic_dataset(root, num_train=4, num_val=2, img_size=64,
                             seed=5, progress=False)
    with open(meta) as f:
        assert json.load(f)['seed'] == 5
    complete = _files(root)
    assert complete != first
    # a dataset missing files is made again
    os.remove(osp.join(root, 'images/val/000001.jpg'))
    ensure_synthetic_dataset(root, num_train=4, num_val=2, img_size=64,
                             seed=5, progress=False)
    assert _files(root) == complete
    # no temporary folders left beside it, only the (empty) lock file
    assert sorted(os.listdir(tmp_path)) == ['.e.lock', 'e']


def test_a_folder_of_something_else_is_never_replaced(tmp_path):
    root = tmp_path / 'mine'
    root.mkdir()
    (root / 'precious.txt').write_text('x')
    with pytest.raises(FileExistsError, match='no synthetic dataset'):
        ensure_synthetic_dataset(str(root), num_train=2, num_val=1,
                                 img_size=32, progress=False)
    with pytest.raises(FileExistsError, match='overwrite'):
        generate_synthetic_dataset(str(root), num_train=2, num_val=1,
                                   img_size=32, progress=False)
    assert os.listdir(root) == ['precious.txt']


def test_bad_arguments_are_rejected(tmp_path):
    root = str(tmp_path / 'x')
    with pytest.raises(ValueError, match='at least 32'):
        generate_synthetic_dataset(root, 2, 1, img_size=(16, 64))
    with pytest.raises(ValueError, match='num_train and num_val'):
        generate_synthetic_dataset(root, 0, 1, img_size=32)
    with pytest.raises(ValueError, match='seed'):
        ensure_synthetic_dataset(root, 2, 1, img_size=32, seed=-1)
    with pytest.raises(TypeError, match='img_size'):
        generate_synthetic_dataset(root, 2, 1, img_size=(32, 32, 3))
    assert not osp.exists(root)


def test_what_a_killed_writer_left_is_removed_by_the_next(tmp_path):
    """A writer killed mid-way leaves ``.<name>.partial`` (and maybe
    ``.<name>.old``) beside the folder; the next writer, holding the lock,
    removes them and writes the dataset whole."""
    root = tmp_path / 'k'
    for leftover in ('.k.partial', '.k.old'):
        (tmp_path / leftover / 'images').mkdir(parents=True)
    ensure_synthetic_dataset(str(root), num_train=2, num_val=1,
                             img_size=32, progress=False)
    assert sorted(os.listdir(tmp_path)) == ['.k.lock', 'k']
    assert len(os.listdir(root / 'images' / 'train')) == 2


def _cli(*args):
    return subprocess.run(
        [sys.executable, osp.join(REPO, 'tools/generate_synthetic_data.py'),
         *args], capture_output=True, text=True)


def test_cli_writes_and_rejects_bad_arguments(tmp_path):
    out = str(tmp_path / 'cli')
    r = _cli('--out-dir', out, '--num-train', '2', '--num-val', '1',
             '--img-size', '48', '64', '--seed', '3', '--depth')
    assert r.returncode == 0, r.stderr
    assert 'wrote 2 train and 1 val images of 48x64' in r.stdout
    assert osp.abspath(out) in r.stdout
    img = cv2.imread(osp.join(out, 'images/train/000000.jpg'))
    assert img.shape[:2] == (48, 64)
    depth = cv2.imread(osp.join(out, 'depth_maps/val/000000.png'),
                       cv2.IMREAD_UNCHANGED)
    assert depth.dtype == np.uint16 and depth.shape == (48, 64)
    with open(osp.join(out, 'meta.json')) as f:
        assert json.load(f)['seed'] == 3
    # an existing dataset needs --overwrite
    r = _cli('--out-dir', out, '--num-train', '2', '--num-val', '1')
    assert r.returncode != 0 and '--overwrite' in r.stderr
    r = _cli('--out-dir', out, '--num-train', '3', '--num-val', '1',
             '--img-size', '40', '--overwrite')
    assert r.returncode == 0, r.stderr
    assert cv2.imread(osp.join(out, 'images/val/000000.jpg')).shape[:2] == \
        (40, 40)
    for args, message in [
            (('--img-size', '16'), '--img-size must be at least 32'),
            (('--img-size', '64', '64', '3'), 'one number (square) or two'),
            (('--num-train', '0'), '--num-train must be at least 1'),
            (('--num-val', '-2'), '--num-val must be at least 1'),
            (('--seed', '-1'), '--seed must be >= 0'),
            (('--num-train', 'many'), "invalid int value: 'many'")]:
        r = _cli('--out-dir', str(tmp_path / 'bad'), *args)
        assert r.returncode == 2, (args, r.stderr)
        assert message in r.stderr, (args, r.stderr)
    assert not osp.exists(tmp_path / 'bad')
