"""The visualizer: semantic map with the segmentation classes/palette,
drawn under opaque boxes, at sizes that read at 128 px and at 2048 px."""
import os

import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData, PixelData

from mmmtl.visualization import MultiTaskVisualizer

META = dict(classes=('circle', ), palette=[(255, 0, 0)],
            seg_classes=('sky', 'grass', 'circle'),
            seg_palette=[(0, 0, 255), (0, 255, 0), (255, 255, 0)])


def sample_of(size, box):
    seg = torch.zeros(1, size, size, dtype=torch.long)
    seg[:, size // 2:, :] = 1                       # lower half grass
    sample = DetDataSample()
    sample.pred_sem_seg = PixelData(sem_seg=seg, data=seg)
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor([box], dtype=torch.float32),
        scores=torch.tensor([0.9]), labels=torch.tensor([0]))
    return sample


def test_seg_overlay_uses_seg_palette_not_det_palette(tmp_path):
    vis = MultiTaskVisualizer(name='vis_test', alpha=1.0, min_render_size=0)
    vis.dataset_meta = META
    out = str(tmp_path / 'vis.png')
    image = np.zeros((120, 120, 3), np.uint8)
    vis.add_datasample('x', image, sample_of(120, [6., 6., 36., 36.]),
                       draw_gt=False, out_file=out, pred_score_thr=0.5)
    drawn = vis.get_image()
    # far from the box and the labels: sky blue on top, grass green below
    assert tuple(drawn[45, 105]) == (0, 0, 255)
    assert tuple(drawn[114, 6]) == (0, 255, 0)
    # and never the detection palette's red for the 'sky' (label 0) area,
    # which is what DetLocalVisualizer alone would draw
    assert not (drawn[40:60, 80:120] == (255, 0, 0)).all(axis=-1).any()
    assert os.path.isfile(out)


def test_boxes_are_drawn_over_the_overlay_not_washed_out():
    vis = MultiTaskVisualizer(name='vis_order', alpha=0.5, min_render_size=0)
    vis.dataset_meta = META
    image = np.full((200, 200, 3), 128, np.uint8)
    vis.add_datasample('x', image, sample_of(200, [60., 90., 160., 190.]),
                       draw_gt=False, pred_score_thr=0.5)
    drawn = vis.get_image().astype(int)
    # the box's right edge, in the grass half: pure detection red
    edge = drawn[150, 158:162]
    assert any(tuple(px) == (255, 0, 0) for px in edge), edge
    # inside the box: the half-transparent grass overlay, not red
    assert tuple(drawn[178, 140]) == (64, 191, 64)


def test_small_images_are_enlarged_and_sizes_follow_the_image():
    vis = MultiTaskVisualizer(name='vis_sizes')
    vis.dataset_meta = META
    small = np.zeros((128, 128, 3), np.uint8)
    assert vis.render_scale(small) == 4
    vis.add_datasample('s', small, sample_of(128, [10., 10., 60., 60.]),
                       draw_gt=False, pred_score_thr=0.5)
    assert vis.get_image().shape == (512, 512, 3)
    large = np.zeros((2048, 2048, 3), np.uint8)
    assert vis.render_scale(large) == 1
    assert vis._font_size(large) > 2 * vis._font_size(small.repeat(4, 0))
    assert vis._line_width(large) > vis._line_width(small)


def test_depth_maps_are_drawn_below_on_one_scale():
    vis = MultiTaskVisualizer(min_render_size=0)
    vis.dataset_meta = META
    size = 32
    sample = sample_of(size, [4, 4, 12, 12])
    gt = torch.full((1, size, size), 2.0)
    gt[:, :, size // 2:] = 10.0                    # right half far
    gt[:, :4, :] = 0.0                             # unknown: black
    sample.gt_depth_map = PixelData(data=gt)
    sample.pred_depth_map = PixelData(data=torch.full((1, size, size), 6.0))
    vis.add_datasample('x', np.full((size, size, 3), 128, np.uint8),
                       sample, draw_gt=True, draw_pred=True)
    drawn = vis.get_image()
    assert drawn.shape == (2 * size, 2 * size, 3)
    gt_depth, pred_depth = drawn[size:, :size], drawn[size:, size:]
    assert (gt_depth[:4] == 0).all()
    near, far = gt_depth[10, 2].astype(int), gt_depth[10, -2].astype(int)
    # inferno: 2 m (the range's low end) dark, 10 m (its high end) bright
    assert near.sum() < 60 < 600 < far.sum(), (near, far)
    # the prediction (6 m, mid-range) on the same scale: between the two
    mid = pred_depth[10, 10].astype(int).sum()
    assert near.sum() < mid < far.sum()
    # without a ground-truth map the panels keep one height: the gt panel
    # is padded black below
    del sample.gt_depth_map
    vis.add_datasample('y', np.full((size, size, 3), 128, np.uint8),
                       sample, draw_gt=True, draw_pred=True)
    drawn = vis.get_image()
    assert drawn.shape == (2 * size, 2 * size, 3)
    assert (drawn[size:, :size] == 0).all()
