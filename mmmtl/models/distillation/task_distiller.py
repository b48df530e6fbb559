"""A task's side of multi-task distillation: adaptors and losses."""
from typing import Callable, Dict, List, Optional, Sequence

import torch
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor, nn

from .losses import logit_divergence, mean_of, normalized_feature_distance
from .nested import batch_of, flat_tensors

#: the data field of a sample holding its teachers' outputs
TEACHER_OUTPUTS = 'teacher_outputs'


@MODELS.register_module()
class TaskDistiller(BaseModule):
    """Distils one single-task teacher into a task of the multi-task student.

    Li & Bilen, "Knowledge Distillation for Multi-task Learning" (ECCV
    Workshops 2020): a task-specific adaptor ``A_t`` (a 1x1 convolution
    without bias per feature level) maps the student's shared features into
    the feature space of task t's single-task teacher, and the loss is the
    distance between ``A_t(student features)`` and the teacher's features
    after L2 normalisation (:func:`normalized_feature_distance`), summed over
    the levels (as the authors' code sums its two); the adaptors are trained
    with the student. Optionally, a logit loss
    (:func:`logit_divergence`) between the task head's raw outputs and the
    teacher's (Hinton et al. 2015).

    The teacher's outputs are read from each sample's ``teacher_outputs``
    field (``{teacher: dict(feats=..., logits=...)}``), written by
    :class:`DistillationDataPreprocessor`. Every sample is distilled,
    labelled for the task or not.

    Args:
        teacher (str): The teacher's name in the preprocessor's
            ``teachers``.
        in_channels (int): Channels of the student's features.
        teacher_channels (int): Channels of the teacher's features.
        in_index (Sequence[int]): The feature levels distilled (the same
            levels of student and teacher), one adaptor each.
        feat_weight (float): Weight of the feature loss. Default 1.
        logit (dict, optional): Logit loss: ``activation`` (``'softmax'``
            over dim 1, or ``'sigmoid'``), ``temperature`` (default 1),
            ``loss_weight`` (default 1), ``index`` (which group of the raw
            outputs holds the logits, e.g. 0 for a dense detection head's
            ``cls_scores``; default: the outputs are the logits).
    """

    def __init__(self, teacher: str, in_channels: int, teacher_channels: int,
                 in_index: Sequence[int],
                 feat_weight: float = 1.0, logit: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.teacher = teacher
        self.in_index = list(in_index)
        self.feat_weight = float(feat_weight)
        self.logit = self._check_logit(logit)
        # as the authors' code: 1x1 convolutions without bias, Xavier-normal
        self.adaptors = nn.ModuleList(
            nn.Conv2d(in_channels, teacher_channels, 1, bias=False)
            for _ in self.in_index)
        for adaptor in self.adaptors:
            nn.init.xavier_normal_(adaptor.weight)

    @staticmethod
    def _check_logit(logit: Optional[dict]) -> Optional[dict]:
        if logit is None:
            return None
        unknown = set(logit) - {'activation', 'temperature', 'loss_weight',
                                'index'}
        if unknown or 'activation' not in logit:
            raise ValueError(
                f'TaskDistiller: logit={logit!r} needs `activation` and may '
                'have `temperature`, `loss_weight`, `index`')
        return dict(dict(temperature=1.0, loss_weight=1.0, index=None),
                    **logit)

    def teacher_outputs(self, data_samples) -> List[dict]:
        """Each sample's outputs of this distiller's teacher."""
        outs = []
        for sample in data_samples:
            per_teacher = sample.get(TEACHER_OUTPUTS) or {}
            if self.teacher not in per_teacher:
                raise KeyError(
                    f'TaskDistiller: the samples carry no outputs of teacher '
                    f'{self.teacher!r} (have: {sorted(per_teacher)}); the '
                    "model's data_preprocessor must be a "
                    'DistillationDataPreprocessor with teachers='
                    f'dict({self.teacher}=dict(config=..., checkpoint=..., '
                    'task=...))')
            outs.append(per_teacher[self.teacher])
        return outs

    def feature_loss(self, feats: Sequence[Tensor],
                     teacher: List[dict]) -> Tensor:
        distances = []
        for adaptor, level in zip(self.adaptors, self.in_index):
            target = torch.stack([t['feats'][level] for t in teacher])
            distances.append(
                normalized_feature_distance(adaptor(feats[level]), target))
        return self.feat_weight * sum(distances)

    def logit_loss(self, student_outs, teacher: List[dict]) -> Tensor:
        cfg = self.logit
        if any(t.get('logits') is None for t in teacher):
            raise KeyError(
                f'TaskDistiller: logit distillation needs the logits of '
                f'teacher {self.teacher!r}: set logits=True in its entry of '
                "the data preprocessor's teachers")
        teacher_outs = batch_of([t['logits'] for t in teacher])
        if cfg['index'] is not None:
            student_outs = student_outs[cfg['index']]
            teacher_outs = teacher_outs[cfg['index']]
        pairs = zip(flat_tensors(student_outs), flat_tensors(teacher_outs))
        return cfg['loss_weight'] * mean_of([
            logit_divergence(s, t.detach(), cfg['activation'],
                             cfg['temperature']) for s, t in pairs])

    def loss(self, feats: Sequence[Tensor], head_outputs: Callable,
             data_samples) -> Dict[str, Tensor]:
        """``loss_distill_feat`` (and ``loss_distill_logit``) on the batch;
        ``head_outputs(feats)`` gives the task head's raw outputs."""
        teacher = self.teacher_outputs(data_samples)
        losses = {}
        if self.feat_weight:
            losses['loss_distill_feat'] = self.feature_loss(feats, teacher)
        if self.logit is not None:
            losses['loss_distill_logit'] = self.logit_loss(
                head_outputs(feats), teacher)
        return losses
