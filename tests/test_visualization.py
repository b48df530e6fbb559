"""The visualizer draws semantic maps with the segmentation classes/palette."""
import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData, PixelData

from mmmtl.visualization import MultiTaskVisualizer


def test_seg_overlay_uses_seg_palette_not_det_palette(tmp_path):
    vis = MultiTaskVisualizer(name='vis_test', alpha=1.0)
    vis.dataset_meta = dict(
        classes=('circle', ), palette=[(255, 0, 0)],
        seg_classes=('sky', 'grass', 'circle'),
        seg_palette=[(0, 0, 255), (0, 255, 0), (255, 255, 0)])
    seg = torch.zeros(1, 40, 40, dtype=torch.long)
    seg[:, 20:, :] = 1                       # lower half grass
    sample = DetDataSample()
    sample.pred_sem_seg = PixelData(sem_seg=seg, data=seg)
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor([[2., 2., 12., 12.]]), scores=torch.tensor([0.9]),
        labels=torch.tensor([0]))
    out = str(tmp_path / 'vis.png')
    image = np.zeros((40, 40, 3), np.uint8)
    vis.add_datasample('x', image, sample, draw_gt=False, out_file=out,
                       pred_score_thr=0.5)
    drawn = vis.get_image()
    # far from the box and the labels: sky blue on top, grass green below
    assert tuple(drawn[15, 35]) == (0, 0, 255)
    assert tuple(drawn[38, 2]) == (0, 255, 0)
    # and never the detection palette's red for the 'sky' (label 0) area,
    # which is what DetLocalVisualizer alone would draw
    assert not (drawn[15:20, 20:40] == (255, 0, 0)).all(axis=-1).any()
    import os
    assert os.path.isfile(out)
