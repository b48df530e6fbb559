"""Object detection with any mmdet single-stage dense head."""
from typing import Dict, List

from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.utils import ConfigType, OptConfigType
from mmengine.config import ConfigDict
from torch import Tensor

from .base_task import BaseTask, Features


@MODELS.register_module()
class DetectionTask(BaseTask):
    """Detection with a single-stage mmdet head (RetinaHead, FCOSHead, ATSS...).

    Args:
        head (dict): The dense head config, as ``bbox_head`` of an mmdet
            single-stage detector.
        train_cfg (dict, optional): The detector's ``train_cfg`` (assigner,
            sampler...).
        test_cfg (dict, optional): The detector's ``test_cfg`` (NMS...).
        neck (dict, optional): A neck of this task's own (soft sharing).
    """

    task_kind = 'detection'
    label_field = 'gt_instances'

    def __init__(self,
                 head: ConfigType,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 neck: OptConfigType = None,
                 auxiliary: bool = False,
                 distill: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(neck=neck, auxiliary=auxiliary, distill=distill,
                         init_cfg=init_cfg)
        head = dict(head)
        # mmdet heads read their cfgs by attribute
        head.update(
            train_cfg=ConfigDict(train_cfg) if train_cfg is not None else None,
            test_cfg=ConfigDict(test_cfg) if test_cfg is not None else None)
        self.head = MODELS.build(head)

    def loss_on_labeled(self, feats: Features,
                        data_samples: List[DetDataSample]) -> Dict[str, Tensor]:
        return self.head.loss(feats, data_samples)

    def predict_by_feat(self, outs: tuple, data_samples: List[DetDataSample],
                        rescale: bool = True) -> None:
        """Boxes from the head's raw outputs (``cls_scores, bbox_preds[,
        score_factors]``, one tensor per level), by its ``predict_by_feat``."""
        results = self.head.predict_by_feat(
            *outs, batch_img_metas=[s.metainfo for s in data_samples],
            rescale=rescale)
        for sample, pred in zip(data_samples, results):
            sample.pred_instances = pred

    def forward(self, feats: Features):
        return self.head(self.task_features(feats))
