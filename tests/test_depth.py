"""Depth estimation: the metric on hand-worked maps, the 16-bit PNG loader,
the task's loss and predictions, and the three-task preset in training."""
import math
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmdet.registry import MODELS, TRANSFORMS
from mmdet.structures import DetDataSample
from mmengine.dataset import Compose
from mmengine.structures import PixelData

from mmmtl.evaluation import DepthEstimationMetric
from mmmtl.evaluation.delta_m import DEFAULT_PRIMARY_METRICS, lower_is_better
from mmmtl.utils.labelled_fields import labelled_fields
from mmmtl.utils.task_selection import select_tasks
from config_fixtures import tiny_config, train_and_validate

PRESET = 'synthetic/retinanet_r18-c32_fpn_semfpn_depthfpn_synthetic.py'


def _sample(gt=None, pred=None, path='img.jpg'):
    s = DetDataSample(metainfo=dict(img_path=path))
    if gt is not None:
        s.gt_depth_map = PixelData(data=torch.tensor(gt)[None].float())
    if pred is not None:
        s.pred_depth_map = PixelData(data=torch.tensor(pred)[None].float())
    return s.to_dict()


# ------------------------------------------------------------------ metric
def test_metric_on_hand_worked_maps():
    """Image A, ground truth [[1, 2], [4, 0]] (0: unknown), prediction
    [[1, 1], [5, 3]]: over its 3 known pixels abs rel = (0 + 1/2 + 1/4)/3
    = 0.25, RMSE = sqrt((0 + 1 + 1)/3) = 0.8165, ratios max(d/g, g/d) =
    1, 2, 1.25 so delta<1.25 = 1/3 (1.25 is not below 1.25), delta<1.25^2
    = 2/3. Image B is exact: 0, 0, 1, 1. The metric is the mean over the
    images; an image without a depth map is skipped."""
    metric = DepthEstimationMetric()
    metric.process({}, [
        _sample([[1, 2], [4, 0]], [[1, 1], [5, 3]]),
        _sample([[2, 2], [3, 3]], [[2, 2], [3, 3]]),
        _sample(None, [[9, 9], [9, 9]]),
    ])
    m = metric.compute_metrics(metric.results)
    assert m['abs_rel'] == pytest.approx(0.25 / 2)
    assert m['rmse'] == pytest.approx(math.sqrt(2 / 3) / 2)
    assert m['d1'] == pytest.approx((1 / 3 + 1) / 2)
    assert m['d2'] == pytest.approx((2 / 3 + 1) / 2)
    assert m['sq_rel'] == pytest.approx((0 + 1 / 2 + 1 / 4) / 3 / 2)
    chosen = DepthEstimationMetric(depth_metrics=['abs_rel', 'd1'])
    assert set(chosen.compute_metrics(metric.results)) == {'abs_rel', 'd1'}
    with pytest.raises(ValueError, match=r"\['delta1'\] not among"):
        DepthEstimationMetric(depth_metrics=['abs_rel', 'delta1'])


def test_metric_names_the_image_of_a_mismatched_map_and_needs_data():
    metric = DepthEstimationMetric()
    with pytest.raises(ValueError, match=r'scene_7\.jpg.*\(2, 2\).*\(2, 3\)'):
        metric.process({}, [_sample([[1, 2], [3, 4]], [[1, 1, 1], [1, 1, 1]],
                                    path='scene_7.jpg')])
    with pytest.raises(KeyError, match='pred_depth_map'):
        metric.process({}, [_sample([[1, 2], [3, 4]])])
    metric.process({}, [_sample([[0, 0]], [[1, 1]])])   # nothing known
    with pytest.raises(ValueError, match='no image'):
        metric.compute_metrics(metric.results)


def test_depth_errors_are_lower_is_better_for_delta_m():
    assert DEFAULT_PRIMARY_METRICS['depth'] == 'depth/abs_rel'
    for name in ('abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'log10', 'silog'):
        assert lower_is_better(f'depth/{name}'), name
    for name in ('d1', 'd2', 'd3'):
        assert not lower_is_better(f'depth/{name}'), name


# ------------------------------------------------------------------ loader
@pytest.fixture
def depth_files(tmp_path):
    """A 4x6 image and its depth map in mm: column c holds 1000 * (c + 1),
    row 0 unknown (0)."""
    img = np.zeros((4, 6, 3), np.uint8)
    img[..., 0] = np.arange(6) * 40         # columns told apart
    depth = np.tile((np.arange(6, dtype=np.uint16) + 1) * 1000, (4, 1))
    depth[0] = 0
    cv2.imwrite(str(tmp_path / 'a.png'), img)
    cv2.imwrite(str(tmp_path / 'a_depth.png'), depth)
    return dict(img_path=str(tmp_path / 'a.png'),
                depth_map_path=str(tmp_path / 'a_depth.png'))


def _run(steps, info):
    return Compose([dict(type='LoadImageFromFile')] + steps)(dict(info))


def test_loader_reads_metres_follows_flips_and_resizes(depth_files):
    out = _run([dict(type='LoadDepthAnnotation')], depth_files)
    depth = out['gt_depth_map']
    assert depth.dtype == np.float32
    assert (depth[1:] == np.arange(1, 7)).all() and (depth[0] == 0).all()
    flipped = _run([dict(type='RandomFlip', prob=1.0),
                    dict(type='LoadDepthAnnotation')], depth_files)
    assert (flipped['gt_depth_map'] == depth[:, ::-1]).all()
    assert (flipped['img'][0, :, 0] == out['img'][0, ::-1, 0]).all()
    resized = _run([dict(type='Resize', scale=(12, 8), keep_ratio=False),
                    dict(type='LoadDepthAnnotation')], depth_files)
    assert resized['gt_depth_map'].shape == resized['img'].shape[:2] == (8, 12)
    assert (resized['gt_depth_map'] ==
            depth.repeat(2, axis=0).repeat(2, axis=1)).all()
    kept = _run([dict(type='Resize', scale=(12, 8), keep_ratio=False),
                 dict(type='LoadDepthAnnotation', align_with_image=False)],
                depth_files)
    assert (kept['gt_depth_map'] == depth).all()


def test_packed_sample_is_labelled_for_depth_only_when_it_has_a_map(
        depth_files):
    pipeline = [dict(type='LoadDepthAnnotation'),
                dict(type='PackMultiTaskInputs')]
    sample = _run(pipeline, depth_files)['data_samples']
    assert sample.gt_depth_map.data.shape == (1, 4, 6)
    assert 'gt_depth_map' in labelled_fields(sample)
    no_map = _run(pipeline, dict(depth_files, depth_map_path=None))
    assert 'gt_depth_map' not in labelled_fields(no_map['data_samples'])


def test_loader_names_a_bad_file(depth_files, tmp_path):
    bad = str(tmp_path / 'truncated.png')
    with open(bad, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n not really')
    eight_bit = str(tmp_path / 'eight_bit.png')
    cv2.imwrite(eight_bit, np.ones((4, 6), np.uint8))
    small = str(tmp_path / 'small.png')
    cv2.imwrite(small, np.ones((4, 5), np.uint16))
    for path, error, message in [
            (str(tmp_path / 'missing.png'), FileNotFoundError,
             'missing.png'),
            (bad, ValueError, 'truncated.png could not be decoded'),
            (eight_bit, ValueError, 'eight_bit.png must be a single-channel '
             '16-bit PNG, got uint8'),
            (small, ValueError, r'small.png is 4x5 .* is 4x6')]:
        with pytest.raises(error, match=message):
            _run([dict(type='LoadDepthAnnotation')],
                 dict(depth_files, depth_map_path=path))
    with pytest.raises(ValueError, match='depth_scale'):
        TRANSFORMS.build(dict(type='LoadDepthAnnotation', depth_scale=0))


# -------------------------------------------------------------------- task
def _task(max_depth=20.0):
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='DepthEstimationTask', max_depth=max_depth,
        head=dict(type='FPNHead', in_channels=[8, 8], in_index=[0, 1],
                  feature_strides=[4, 8], channels=8, dropout_ratio=0.0,
                  norm_cfg=dict(type='BN', requires_grad=True),
                  align_corners=False)))


def _feats():
    g = torch.Generator().manual_seed(1)
    return (torch.randn(3, 8, 4, 4, generator=g),
            torch.randn(3, 8, 2, 2, generator=g))


def _depth_samples():
    """Three 16x16 inputs: image 0 is 12x16 (4 rows of padding), image 2
    16x16, each with a depth map whose first row is unknown; image 1 has
    none (not labelled for depth)."""
    samples = []
    for i, shape in enumerate([(12, 16), (16, 16), (16, 16)]):
        s = DetDataSample(metainfo=dict(
            img_shape=shape, ori_shape=(shape[0] * 2, shape[1] * 2),
            batch_input_shape=(16, 16), img_path=f'{i}.jpg'))
        if i != 1:     # a ground plane: farther up the image
            rows = torch.arange(shape[0], dtype=torch.float32)
            gt = (30.0 / (rows + 2))[:, None].expand(shape).clone()[None]
            gt[:, 0] = 0
            s.gt_depth_map = PixelData(data=gt)
        samples.append(s)
    return samples


def _silog_by_hand(pred, gt):
    """sqrt(mean(e^2) - 0.5 mean(e)^2), e = log g - log d, over g > 0."""
    e = torch.log(gt[gt > 0]) - torch.log(pred[gt > 0])
    return torch.sqrt((e ** 2).mean() - 0.5 * e.mean() ** 2)


def test_task_loss_is_the_silog_of_its_depth_over_known_pixels():
    task, feats, samples = _task(), _feats(), _depth_samples()
    losses = task.loss(feats, samples)
    assert set(losses) == {'loss_silog'}
    # the head sees the two labelled images only (its BatchNorm too)
    outs = task(tuple(f[[0, 2]] for f in feats))
    assert outs.shape == (2, 1, 4, 4)
    depth = 20.0 * torch.sigmoid(torch.nn.functional.interpolate(
        outs, size=(16, 16), mode='bilinear', align_corners=False))
    expected = [_silog_by_hand(depth[i, 0, :h], s.gt_depth_map.data[0])
                for i, s, h in ((0, samples[0], 12), (1, samples[2], 16))]
    assert losses['loss_silog'].item() == pytest.approx(
        float(sum(expected) / 2), rel=1e-5)
    assert task.is_labeled(samples[0]) and not task.is_labeled(samples[1])
    # a map not aligned with the image the network saw
    samples[2].gt_depth_map = PixelData(data=torch.ones(1, 8, 8))
    with pytest.raises(ValueError, match=r'2\.jpg is 8x8 .* is 16x16'):
        task.loss(feats, samples)


def test_task_learns_a_depth_map():
    task, feats, samples = _task(), _feats(), _depth_samples()
    optim = torch.optim.Adam(task.parameters(), lr=1e-2)
    first = None
    for _ in range(40):
        loss = task.loss(feats, samples)['loss_silog']
        first = loss.item() if first is None else first
        optim.zero_grad()
        loss.backward()
        optim.step()
    assert loss.item() < 0.5 * first, (first, loss.item())


def test_task_predicts_depth_at_the_original_size():
    task, samples = _task(max_depth=7.0), _depth_samples()
    task.eval()
    with torch.no_grad():
        task.predict(_feats(), samples, rescale=True)
    for s in samples:
        pred = s.pred_depth_map.data
        assert pred.shape == (1, *s.metainfo['ori_shape'])
        assert (pred > 0).all() and (pred < 7.0).all()
    with torch.no_grad():
        task.predict(_feats(), samples, rescale=False)
    assert samples[0].pred_depth_map.data.shape == (1, 12, 16)
    with pytest.raises(ValueError, match='max_depth'):
        _task(max_depth=0)


# --------------------------------------------------------- preset, --tasks
def test_three_task_preset_trains_through_a_gramian_balancer(
        tiny_data_root, tmp_path):
    cfg = tiny_config(PRESET, tiny_data_root, tmp_path)
    cfg.optim_wrapper.balancer = dict(type='MGDA')
    runner, losses, metrics = train_and_validate(cfg)
    assert set(losses) == {'det', 'seg', 'depth'}
    assert all(math.isfinite(v) for v in losses.values()), losses
    hub = runner.message_hub
    weights = [hub.get_scalar(f'train/weight.{t}').current()
               for t in ('det', 'seg', 'depth')]
    assert sum(weights) == pytest.approx(1.0, abs=1e-4)
    assert {'coco/bbox_mAP', 'seg/mIoU', 'depth/abs_rel'} <= set(metrics)
    assert 0 <= metrics['depth/d1'] <= 1 and metrics['depth/rmse'] > 0


def test_tasks_depth_keeps_the_depth_task_and_metric(tiny_data_root,
                                                     tmp_path):
    cfg = select_tasks(tiny_config(PRESET, tiny_data_root, tmp_path),
                       ['depth'])
    assert list(cfg.model.tasks) == ['depth']
    assert [m['type'] for m in cfg.val_evaluator] == ['DepthEstimationMetric']
    assert cfg.optim_wrapper.balancer.type == 'EqualWeighting'
    _, losses, metrics = train_and_validate(cfg)
    assert set(losses) == {'depth'} and math.isfinite(losses['depth'])
    assert metrics and all(k.startswith('depth/') for k in metrics)
    assert osp.isdir(osp.join(tiny_data_root, 'depth_maps', 'val'))
