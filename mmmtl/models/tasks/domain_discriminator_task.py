"""A discriminator of data sources behind gradient reversal (DANN)."""
from typing import Dict, List, Sequence

import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.utils import OptConfigType
from torch import Tensor, nn

from ..layers import GradientReversal
from .base_task import Features
from .image_classification_task import ImageClassificationTask


@MODELS.register_module()
class DomainDiscriminatorTask(ImageClassificationTask):
    """Adversarial feature alignment: tell the data sources apart from the
    shared features, through a gradient-reversal layer.

    Ganin & Lempitsky, "Unsupervised Domain Adaptation by Backpropagation"
    (ICML 2015): the discriminator (here an MLP on the globally pooled
    shared feature map ``in_index``) is trained to classify each image's
    source (the metainfo key ``label_key``, e.g. set per source by
    :class:`SetImageLabel`), while the reversed gradient (``-lambda`` times
    its own) trains the shared layers to make the sources
    indistinguishable. ``lambda`` follows DANN's ramp ``2 / (1 +
    exp(-gamma p)) - 1`` over the training progress ``p`` (``grl``, see
    :class:`GradientReversal`; add :class:`GradientReversalScheduleHook`),
    or is constant.

    Auxiliary by default: trained and balanced with the other tasks, never
    predicted or exported. Its loss is cross-entropy (times
    ``loss_weight``); it logs ``acc``, the discriminator's accuracy in %
    (near chance when the features are aligned), and ``grl_lambda``, the
    reversal weight of the step. Images without
    ``label_key`` are not labelled for it.

    Args:
        num_classes (int): Number of sources. Default 2.
        in_channels (int): Channels of the feature map read.
        in_index (int): Which shared feature map to read. Default -1.
        label_key (str): Metainfo key of the source label. Default
            ``'source'``.
        hidden_channels (Sequence[int]): Widths of the MLP's hidden
            layers (ReLU after each). Default (256, 256).
        grl (dict): Arguments of :class:`GradientReversal`. Default
            ``dict(max_lambda=1.0, schedule='dann', gamma=10.0)``.
        dropout (float): Dropout before each linear layer. Default 0.
        loss_weight (float): Weight of the loss. Default 1.
        auxiliary (bool): Default True.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int = 2,
                 in_index: int = -1,
                 label_key: str = 'source',
                 hidden_channels: Sequence[int] = (256, 256),
                 grl: OptConfigType = None,
                 dropout: float = 0.0,
                 loss_weight: float = 1.0,
                 classes: Sequence[str] = None,
                 neck: OptConfigType = None,
                 auxiliary: bool = True,
                 distill: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(num_classes=num_classes, in_channels=in_channels,
                         in_index=in_index, label_key=label_key,
                         dropout=dropout, loss_weight=loss_weight,
                         classes=classes, neck=neck, auxiliary=auxiliary,
                         distill=distill, init_cfg=init_cfg)
        self.grl = GradientReversal(**(grl or {}))
        layers, width = [], in_channels
        for hidden in hidden_channels:
            layers += [nn.Linear(width, hidden), nn.ReLU(inplace=True),
                       nn.Dropout(dropout)]
            width = hidden
        self.mlp = nn.Sequential(*layers)
        self.fc = nn.Linear(width, num_classes)

    def loss_on_labeled(self, feats: Features,
                        data_samples: List[DetDataSample]) -> Dict[str, Tensor]:
        losses = super().loss_on_labeled(feats, data_samples)
        losses['grl_lambda'] = torch.tensor(  # logged
            self.grl.lambda_, device=losses['loss_cls'].device)
        return losses

    def _logits(self, task_feats: Features) -> Tensor:
        x = self.grl(task_feats[self.in_index]).mean(dim=(2, 3))
        return self.fc(self.mlp(self.dropout(x)))
