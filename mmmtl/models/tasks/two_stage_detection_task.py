"""Object detection with an RPN and an RoI head (Faster / Mask R-CNN)."""
from typing import Dict, List

import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.utils import ConfigType, OptConfigType
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor

from .base_task import BaseTask, Features


@MODELS.register_module()
class TwoStageDetectionTask(BaseTask):
    """Two-stage detection: mmdet's RPN head proposes, its RoI head classifies.

    ``rpn_head``, ``roi_head``, ``train_cfg`` (with ``rpn``,
    ``rpn_proposal``, ``rcnn``) and ``test_cfg`` (with ``rpn``, ``rcnn``)
    are those of an mmdet ``TwoStageDetector`` config. A ``mask_head`` in
    the RoI head (Mask R-CNN) adds instance masks to this task: its
    ``loss_mask`` joins the task's losses and predictions carry ``masks``;
    load masks with ``LoadMultiTaskAnnotations(with_mask=True)``.

    RPN losses keep mmdet's names (``loss_rpn_cls``, ``loss_rpn_bbox``;
    ``det.loss_rpn_cls`` in the model).
    """

    task_kind = 'detection'
    label_field = 'gt_instances'

    def __init__(self,
                 rpn_head: ConfigType,
                 roi_head: ConfigType,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 neck: OptConfigType = None,
                 auxiliary: bool = False,
                 distill: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(neck=neck, auxiliary=auxiliary, distill=distill,
                         init_cfg=init_cfg)
        # mmdet heads read their cfgs by attribute
        train_cfg = ConfigDict(train_cfg) if train_cfg is not None else None
        test_cfg = ConfigDict(test_cfg) if test_cfg is not None else None
        if test_cfg is None or 'rpn' not in test_cfg or 'rcnn' not in test_cfg:
            raise ValueError('TwoStageDetectionTask: test_cfg must have '
                             '`rpn` and `rcnn` entries, as in an mmdet '
                             'two-stage detector config')
        rpn_head = dict(rpn_head)
        rpn_head.update(
            train_cfg=train_cfg.get('rpn') if train_cfg else None,
            test_cfg=test_cfg['rpn'])
        if rpn_head.setdefault('num_classes', 1) != 1:
            raise ValueError('TwoStageDetectionTask: rpn_head.num_classes '
                             'must be 1 (object vs background)')
        self.rpn_head = MODELS.build(rpn_head)
        roi_head = dict(roi_head)
        roi_head.update(
            train_cfg=train_cfg.get('rcnn') if train_cfg else None,
            test_cfg=test_cfg['rcnn'])
        self.roi_head = MODELS.build(roi_head)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg

    @staticmethod
    def _class_agnostic(data_samples: List[DetDataSample]) -> List[DetDataSample]:
        """Samples whose boxes all have label 0, for the RPN (boxes shared,
        not copied)."""
        out = []
        for s in data_samples:
            gt = s.gt_instances
            rpn_gt = InstanceData(bboxes=gt.bboxes,
                                  labels=torch.zeros_like(gt.labels))
            rpn_sample = DetDataSample(metainfo=s.metainfo,
                                       gt_instances=rpn_gt)
            if 'ignored_instances' in s:
                rpn_sample.ignored_instances = s.ignored_instances
            out.append(rpn_sample)
        return out

    def loss_on_labeled(self, feats: Features,
                        data_samples: List[DetDataSample]) -> Dict[str, Tensor]:
        proposal_cfg = self.train_cfg.get('rpn_proposal', self.test_cfg['rpn'])
        rpn_losses, proposals = self.rpn_head.loss_and_predict(
            feats, self._class_agnostic(data_samples),
            proposal_cfg=proposal_cfg)
        losses = {(f'rpn_{k}' if 'loss' in k and 'rpn' not in k else k): v
                  for k, v in rpn_losses.items()}
        losses.update(self.roi_head.loss(feats, proposals, data_samples))
        return losses

    def predict(self, feats: Features, data_samples: List[DetDataSample],
                rescale: bool = True) -> None:
        feats = self.task_features(feats)
        proposals = self.rpn_head.predict(feats, data_samples, rescale=False)
        results = self.roi_head.predict(
            feats, proposals, data_samples, rescale=rescale)
        for sample, pred in zip(data_samples, results):
            sample.pred_instances = pred

    def forward(self, feats: Features):
        feats = self.task_features(feats)
        rpn_outs = self.rpn_head(feats)
        return rpn_outs
