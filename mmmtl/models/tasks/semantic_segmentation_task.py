"""Semantic segmentation with any mmseg decode head."""
from typing import Dict, List

import torch.nn.functional as F
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.utils import ConfigType, OptConfigType
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from torch import Tensor

from .base_task import BaseTask, Features


@MODELS.register_module()
class SemanticSegmentationTask(BaseTask):
    """Semantic segmentation with an mmseg decode head (FPNHead, UPerHead...).

    The head is built in mmseg's registry scope (``_scope_='mmseg'`` unless
    the config names another), so its nested parts, such as ``loss_decode``,
    are mmseg's. Its ``in_index`` selects among the shared features: with a
    RetinaNet/FCOS FPN (``start_level=1``) the outputs have strides
    ``8, 16, 32, 64, 128``, so a Semantic-FPN head reads ``in_index=[0, 1, 2,
    3]`` with ``feature_strides=[8, 16, 32, 64]``.

    Labels come from the ``gt_sem_seg`` of mmdet data samples (uint8 maps
    of each image's size, as ``PackDetInputs`` stores them); they are padded
    with the head's ``ignore_index`` to the batch's padded input size and
    handed to the head as int64. Predictions are written as
    ``pred_sem_seg = PixelData(sem_seg=..., data=...)``, which mmdet's
    metrics, mmseg's ``IoUMetric`` and the visualizer all read.

    Args:
        head (dict): The decode head config.
        neck (dict, optional): A neck of this task's own (soft sharing).
    """

    task_kind = 'segmentation'
    label_field = 'gt_sem_seg'

    def __init__(self,
                 head: ConfigType,
                 neck: OptConfigType = None,
                 auxiliary: bool = False,
                 distill: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(neck=neck, auxiliary=auxiliary, distill=distill,
                         init_cfg=init_cfg)
        head = dict(head)
        head.setdefault('_scope_', 'mmseg')
        self.head = MODELS.build(head)
        self.ignore_index = self.head.ignore_index

    def _seg_samples(self, data_samples: List[DetDataSample]) -> List[SegDataSample]:
        """SegDataSamples with labels padded to the batch's input size."""
        pad_h, pad_w = data_samples[0].metainfo['batch_input_shape']
        seg_samples = []
        for sample in data_samples:
            seg = sample.gt_sem_seg.sem_seg
            h, w = seg.shape[-2:]
            label = F.pad(seg.long(), (0, pad_w - w, 0, pad_h - h),
                          value=self.ignore_index)
            seg_samples.append(
                SegDataSample(gt_sem_seg=PixelData(data=label),
                              metainfo=sample.metainfo))
        return seg_samples

    def loss_on_labeled(self, feats: Features,
                        data_samples: List[DetDataSample]) -> Dict[str, Tensor]:
        logits = self.head(feats)
        return self.head.loss_by_feat(logits, self._seg_samples(data_samples))

    def predict_by_feat(self, logits: Tensor,
                        data_samples: List[DetDataSample],
                        rescale: bool = True) -> None:
        """Label maps from the head's logits (N, C, h, w): resized to the
        padded input, cropped to each image, resized to its original size
        (``rescale``), then the arg-max."""
        align = self.head.align_corners
        for i, sample in enumerate(data_samples):
            meta = sample.metainfo
            logit = F.interpolate(logits[i:i + 1],
                                  size=meta['batch_input_shape'],
                                  mode='bilinear', align_corners=align)
            h, w = meta['img_shape'][:2]
            logit = logit[..., :h, :w]
            if rescale:
                logit = F.interpolate(logit, size=meta['ori_shape'][:2],
                                      mode='bilinear', align_corners=align)
            pred = logit.argmax(dim=1)
            sample.pred_sem_seg = PixelData(sem_seg=pred, data=pred)

    def forward(self, feats: Features) -> Tensor:
        return self.head(self.task_features(feats))
