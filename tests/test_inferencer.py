"""MultiTaskInferencer and demo/image_demo.py: keys, shapes, files, and the
same predictions as the model through the test pipeline."""
import json
import os
import os.path as osp
import shutil
import sys

import cv2
import mmcv
import numpy as np
import pytest

from deploy_fixtures import (build_test_dataset, config_for_tests,
                             pipeline_predictions, write_config_and_checkpoint)
from mtl_fixtures import DET_CLASSES, REPO, SEG_CLASSES

from mmmtl.apis import MultiTaskInferencer


@pytest.fixture(scope='module')
def demo_model(tiny_data_root, tmp_path_factory):
    """(config file, checkpoint, config) of the demo model, random weights."""
    cfg = config_for_tests(tiny_data_root)
    folder = str(tmp_path_factory.mktemp('demo_model'))
    config_file, checkpoint = write_config_and_checkpoint(cfg, folder)
    return config_file, checkpoint, cfg


@pytest.fixture(scope='module')
def inferencer(demo_model):
    config_file, checkpoint, _ = demo_model
    return MultiTaskInferencer(config_file, checkpoint, device='cpu',
                               show_progress=False)


@pytest.fixture(scope='module')
def expected(inferencer, demo_model):
    """Image paths of 3 val images and the model's own predictions on them
    through the test pipeline."""
    dataset = build_test_dataset(demo_model[2])
    samples = pipeline_predictions(inferencer.model, dataset, [0, 1, 2])
    return [s.img_path for s in samples], samples


def assert_same_prediction(result, sample):
    inst = sample.pred_instances.numpy()
    assert result['labels'] == inst.labels.tolist()
    np.testing.assert_allclose(result['scores'], inst.scores, atol=1e-5)
    np.testing.assert_allclose(np.asarray(result['bboxes']).reshape(-1, 4),
                               inst.bboxes, atol=1e-3)
    np.testing.assert_array_equal(result['sem_seg'],
                                  sample.pred_sem_seg.sem_seg.numpy()[0])


def test_one_image_keys_shapes_and_names(inferencer, expected):
    path = expected[0][0]
    out = inferencer(path)
    assert set(out) == {'predictions', 'visualization'}
    assert len(out['predictions']) == 1
    pred = out['predictions'][0]
    assert {'bboxes', 'labels', 'scores', 'label_names', 'sem_seg',
            'seg_classes', 'seg_palette'} <= set(pred)
    n = len(pred['labels'])
    assert n > 0 and len(pred['scores']) == n and len(pred['bboxes']) == n
    assert all(len(box) == 4 for box in pred['bboxes'])
    assert pred['label_names'] == [DET_CLASSES[i] for i in pred['labels']]
    height, width = mmcv.imread(path).shape[:2]
    assert pred['sem_seg'].shape == (height, width)
    assert pred['sem_seg'].dtype.kind in 'iu'
    assert pred['sem_seg'].max() < len(SEG_CLASSES)
    assert tuple(pred['seg_classes']) == SEG_CLASSES
    assert len(pred['seg_palette']) == len(SEG_CLASSES)
    assert_same_prediction(pred, expected[1][0])


def test_list_and_batches_equal_the_test_pipeline(inferencer, expected):
    paths, samples = expected
    for batch_size in (1, 2):
        out = inferencer(paths, batch_size=batch_size)
        assert len(out['predictions']) == len(paths)
        for result, sample in zip(out['predictions'], samples):
            assert_same_prediction(result, sample)


def test_array_input_is_bgr_and_seg_map_at_its_size(inferencer, expected):
    paths, samples = expected
    image = mmcv.imread(paths[1])                 # BGR, as mmcv reads it
    assert_same_prediction(inferencer(image)['predictions'][0], samples[1])
    cropped = np.ascontiguousarray(image[:, :48])  # not square, not padded
    pred = inferencer(cropped)['predictions'][0]
    assert pred['sem_seg'].shape == (image.shape[0], 48)
    assert np.asarray(pred['bboxes']).reshape(-1, 4)[:, 2].max() <= 48 + 1e-3


def test_folder_sorted_with_progress(demo_model, expected, tmp_path, capsys):
    paths, samples = expected
    for path in reversed(paths):
        shutil.copy(path, tmp_path)
    (tmp_path / 'notes.txt').write_text('not an image')
    config_file, checkpoint, _ = demo_model
    inferencer = MultiTaskInferencer(config_file, checkpoint, device='cpu')
    out = inferencer(str(tmp_path), batch_size=2)
    assert len(out['predictions']) == len(paths)
    order = sorted(range(len(paths)), key=lambda i: osp.basename(paths[i]))
    for result, i in zip(out['predictions'], order):
        assert_same_prediction(result, samples[i])
    assert 'Inference' in capsys.readouterr().out


def test_classification_task_output(tiny_data_root, tmp_path):
    cfg = config_for_tests(tiny_data_root)
    cfg.model.tasks.weather = dict(
        type='ImageClassificationTask', num_classes=3, in_channels=64,
        classes=('sun', 'rain', 'fog'))
    config_file, checkpoint = write_config_and_checkpoint(cfg, str(tmp_path))
    inferencer = MultiTaskInferencer(config_file, checkpoint, device='cpu')
    dataset = build_test_dataset(cfg)
    pred = inferencer(dataset[0]['data_samples'].img_path)['predictions'][0]
    weather = pred['weather']
    assert weather['label_name'] == ('sun', 'rain', 'fog')[weather['label']]
    assert abs(sum(weather['scores']) - 1) < 1e-5
    assert weather['score'] == max(weather['scores'])


def test_depth_task_output_files_and_drawing(tiny_data_root, tmp_path):
    cfg = config_for_tests(tiny_data_root)
    cfg.model.tasks.depth = dict(
        type='DepthEstimationTask', max_depth=20.0, head=dict(
            type='FPNHead', in_channels=[64] * 4, in_index=[0, 1, 2, 3],
            feature_strides=[8, 16, 32, 64], channels=16,
            dropout_ratio=0.0, align_corners=False))
    config_file, checkpoint = write_config_and_checkpoint(cfg, str(tmp_path))
    inferencer = MultiTaskInferencer(config_file, checkpoint, device='cpu')
    image = build_test_dataset(cfg)[0]['data_samples'].img_path
    height, width = cv2.imread(image).shape[:2]
    out = inferencer(image, out_dir=str(tmp_path / 'out'), return_vis=True)
    depth = out['predictions'][0]['depth']['depth']
    assert depth.shape == (height, width) and depth.dtype == np.float32
    assert ((depth > 0) & (depth < 20.0)).all()
    name = osp.splitext(osp.basename(image))[0]
    saved = json.load(open(tmp_path / 'out' / 'preds' / f'{name}.json'))
    np.testing.assert_array_equal(np.load(saved['depth']['depth_path']),
                                  depth)
    # the drawing: the image with its overlays, the depth map below
    drawn = out['visualization'][0]
    assert drawn.shape[0] / drawn.shape[1] == pytest.approx(
        2 * height / width, rel=0.02)


def test_demo_writes_vis_json_and_png(demo_model, expected, tmp_path):
    paths, samples = expected
    images = tmp_path / 'images'
    images.mkdir()
    for path in paths[:2]:
        shutil.copy(path, images)
    config_file, checkpoint, _ = demo_model
    out_dir = tmp_path / 'out'
    sys.path.insert(0, osp.join(REPO, 'demo'))
    try:
        import image_demo
    finally:
        sys.path.pop(0)
    image_demo.main([str(images), config_file, '--weights', checkpoint,
                     '--out-dir', str(out_dir), '--device', 'cpu',
                     '--score-thr', '0.0', '--batch-size', '2'])
    for path, sample in zip(paths[:2], samples):
        name = osp.splitext(osp.basename(path))[0]
        height, width = mmcv.imread(path).shape[:2]
        vis = mmcv.imread(str(out_dir / 'vis' / f'{name}.jpg'))
        assert vis is not None and vis.shape[0] >= height
        with open(out_dir / 'preds' / f'{name}.json') as f:
            saved = json.load(f)
        png = cv2.imread(str(out_dir / 'preds' / f'{name}.png'),
                         cv2.IMREAD_UNCHANGED)
        assert png.shape == (height, width)     # one channel, input size
        saved['sem_seg'] = png
        assert saved['sem_seg_path'] == str(out_dir / 'preds' / f'{name}.png')
        assert_same_prediction(saved, sample)
    assert sorted(os.listdir(out_dir)) == ['preds', 'vis']


def test_clear_errors(demo_model, tmp_path):
    config_file, checkpoint, _ = demo_model
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        MultiTaskInferencer(config_file, str(tmp_path / 'missing.pth'))
    inferencer = MultiTaskInferencer(config_file, checkpoint, device='cpu')
    with pytest.raises(ValueError, match='no images'):
        inferencer(str(tmp_path))
