"""Image-level classification (weather, scene type...) on the shared features."""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.utils import OptConfigType
from torch import Tensor, nn

from .base_task import BaseTask, Features


@MODELS.register_module()
class ImageClassificationTask(BaseTask):
    """One label per image from a linear classifier on pooled features.

    Reads ``in_index`` of the shared features (default the coarsest one
    given), global-average-pools it, and classifies with dropout + a linear
    layer; loss: cross-entropy averaged over the labelled images. Labels
    come from the sample's metainfo key ``label_key`` (an int; images
    without it are not labelled for this task). Predictions are written as
    ``pred_<label_key>`` (the class index) and ``pred_<label_key>_scores``
    (softmax) in the sample's metainfo.

    Args:
        num_classes (int): Number of image classes.
        in_channels (int): Channels of the feature map read.
        in_index (int): Which shared feature map to read. Default -1.
        label_key (str): Metainfo key of the image label. Default
            ``'image_label'``.
        dropout (float): Dropout before the classifier. Default 0.
        loss_weight (float): Weight of the loss. Default 1.
        classes (Sequence[str], optional): Class names (for reading
            predictions).
    """

    task_kind = 'classification'

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 in_index: int = -1,
                 label_key: str = 'image_label',
                 dropout: float = 0.0,
                 loss_weight: float = 1.0,
                 classes: Sequence[str] = None,
                 neck: OptConfigType = None,
                 auxiliary: bool = False,
                 distill: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(neck=neck, auxiliary=auxiliary, distill=distill,
                         init_cfg=init_cfg)
        if num_classes < 2:
            raise ValueError('ImageClassificationTask: num_classes must be '
                             f'>= 2, got {num_classes}')
        if classes is not None and len(classes) != num_classes:
            raise ValueError(f'ImageClassificationTask: {len(classes)} '
                             f'classes named for num_classes={num_classes}')
        self.in_index = in_index
        self.label_key = label_key
        self.label_field = label_key
        self.loss_weight = loss_weight
        self.classes = tuple(classes) if classes is not None else None
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_channels, num_classes)

    def _logits(self, task_feats: Features) -> Tensor:
        x = task_feats[self.in_index]
        return self.fc(self.dropout(x.mean(dim=(2, 3))))

    def forward(self, feats: Features) -> Tensor:
        return self._logits(self.task_features(feats))

    def loss_on_labeled(self, feats: Features,
                        data_samples: List[DetDataSample]) -> Dict[str, Tensor]:
        logits = self._logits(feats)
        labels = torch.as_tensor(
            [int(s.metainfo[self.label_key]) for s in data_samples],
            device=logits.device)
        if (labels < 0).any() or (labels >= self.fc.out_features).any():
            raise ValueError(
                f'ImageClassificationTask: image labels {labels.tolist()} '
                f'(metainfo "{self.label_key}") outside 0..'
                f'{self.fc.out_features - 1}')
        loss = F.cross_entropy(logits, labels) * self.loss_weight
        acc = (logits.argmax(1) == labels).float().mean() * 100
        return dict(loss_cls=loss, acc=acc.detach())

    def predict_by_feat(self, logits: Tensor,
                        data_samples: List[DetDataSample],
                        rescale: bool = True) -> None:
        scores = logits.softmax(dim=1)
        for sample, s in zip(data_samples, scores):
            sample.set_metainfo({
                f'pred_{self.label_key}': int(s.argmax()),
                f'pred_{self.label_key}_scores': s.detach(),
            })

    def prediction_dict(self, data_sample: DetDataSample) -> Optional[dict]:
        """``label``, ``label_name`` (None without ``classes``), ``score``
        and all class ``scores`` of the image."""
        label = data_sample.metainfo.get(f'pred_{self.label_key}')
        if label is None:
            return None
        scores = data_sample.metainfo[f'pred_{self.label_key}_scores']
        scores = [float(v) for v in scores]
        return dict(label=label, score=scores[label], scores=scores,
                    label_name=self.classes[label] if self.classes else None)
