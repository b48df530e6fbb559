"""Monocular depth estimation with an mmseg decode head on the shared
features."""
import warnings
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.utils import ConfigType, OptConfigType
from mmengine.structures import PixelData
from torch import Tensor, nn

from .base_task import BaseTask, Features


@MODELS.register_module()
class DepthEstimationTask(BaseTask):
    """Dense depth regression with any mmseg decode head (FPNHead,
    UPerHead...) giving one output channel.

    The head is built in mmseg's scope with ``num_classes=1``; its output
    ``x`` (N, 1, h, w), upsampled bilinearly, becomes a depth in
    ``(0, max_depth)`` metres as ``max_depth * sigmoid(x)`` (as mmseg's
    ``VPDDepthHead``). The loss is the head's ``loss_decode``, by default
    mmseg's ``SiLogLoss``: the scale-invariant log loss of Eigen et al.
    2014 ("Depth map prediction from a single image using a multi-scale
    deep network"), per image ``sqrt(mean(d^2) - 0.5 mean(d)^2)`` with
    ``d = log(gt) - log(pred)`` over its pixels of known depth, averaged
    over the images. Pixels of unknown depth (0 in the ground truth, and
    the padding) are left out.

    Labels are the ``gt_depth_map`` of the data samples (``PixelData``,
    metres, at the image's size as fed to the network; see
    :class:`LoadDepthAnnotation`). Predictions are written as
    ``pred_depth_map = PixelData(data=(1, H, W) depth)`` at the original
    image size (``rescale``), which :class:`DepthEstimationMetric` and
    mmseg's ``DepthMetric`` read.

    Args:
        head (dict): The decode head config; ``num_classes`` is set to 1
            and ``loss_decode`` defaults to ``SiLogLoss``.
        max_depth (float): Largest depth the head can give (m).
        neck (dict, optional): A neck of this task's own (soft sharing).
    """

    task_kind = 'depth'
    label_field = 'gt_depth_map'

    def __init__(self,
                 head: ConfigType,
                 max_depth: float,
                 neck: OptConfigType = None,
                 auxiliary: bool = False,
                 distill: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(neck=neck, auxiliary=auxiliary, distill=distill,
                         init_cfg=init_cfg)
        if not max_depth > 0:
            raise ValueError(f'DepthEstimationTask: max_depth must be > 0, '
                             f'got {max_depth}')
        self.max_depth = float(max_depth)
        head = dict(head, num_classes=1)
        head.setdefault('_scope_', 'mmseg')
        head.setdefault('loss_decode', dict(type='SiLogLoss'))
        with warnings.catch_warnings():
            # mmseg's threshold is for binary segmentation: unused here
            warnings.filterwarnings('ignore', 'threshold is not defined')
            self.head = MODELS.build(head)

    def _depth(self, outs: Tensor, size) -> Tensor:
        """Depth (m) at ``size`` from the head's raw outputs."""
        outs = F.interpolate(outs, size=size, mode='bilinear',
                             align_corners=self.head.align_corners)
        return self.max_depth * torch.sigmoid(outs)

    def _gt_depth(self, data_samples: List[DetDataSample]) -> Tensor:
        """(N, 1, H, W) ground truth padded with 0 (unknown) to the batch's
        input size."""
        pad_h, pad_w = data_samples[0].metainfo['batch_input_shape']
        maps = []
        for sample in data_samples:
            gt = sample.gt_depth_map.data.float()
            h, w = gt.shape[-2:]
            img_h, img_w = sample.metainfo['img_shape'][:2]
            if (h, w) != (img_h, img_w):
                raise ValueError(
                    f'DepthEstimationTask: the depth map of '
                    f'{sample.metainfo.get("img_path")} is {h}x{w} (HxW) but '
                    f'the image fed to the network is {img_h}x{img_w}: load '
                    f'it after the geometric transforms of the train '
                    f'pipeline (LoadDepthAnnotation, align_with_image=True)')
            maps.append(F.pad(gt.reshape(1, h, w), (0, pad_w - w, 0,
                                                    pad_h - h)))
        return torch.stack(maps)

    def _losses(self) -> List[nn.Module]:
        loss = self.head.loss_decode
        return list(loss) if isinstance(loss, nn.ModuleList) else [loss]

    def loss_on_labeled(self, feats: Features,
                        data_samples: List[DetDataSample]) -> Dict[str, Tensor]:
        gt = self._gt_depth(data_samples)
        pred = self._depth(self.head(feats), gt.shape[-2:])
        return {loss.loss_name: loss(pred, gt) for loss in self._losses()}

    def predict_by_feat(self, outs: Tensor,
                        data_samples: List[DetDataSample],
                        rescale: bool = True) -> None:
        """Depth maps from the head's outputs (N, 1, h, w): resized to the
        padded input, cropped to each image, resized to its original size
        (``rescale``)."""
        for i, sample in enumerate(data_samples):
            meta = sample.metainfo
            depth = self._depth(outs[i:i + 1], meta['batch_input_shape'])
            h, w = meta['img_shape'][:2]
            depth = depth[..., :h, :w]
            if rescale:
                depth = F.interpolate(depth, size=meta['ori_shape'][:2],
                                      mode='bilinear',
                                      align_corners=self.head.align_corners)
            sample.pred_depth_map = PixelData(data=depth[0])

    def prediction_dict(self, data_sample: DetDataSample) -> Optional[dict]:
        """``depth``: the (H, W) float32 depth map in metres at the
        original image size (None without a prediction)."""
        if 'pred_depth_map' not in data_sample:
            return None
        depth = data_sample.pred_depth_map.data.detach().float().cpu()
        return dict(depth=depth.reshape(depth.shape[-2:]).numpy())

    def forward(self, feats: Features) -> Tensor:
        return self.head(self.task_features(feats))
