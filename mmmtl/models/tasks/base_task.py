"""A task: one head (and optionally its own neck) on the shared features."""
from abc import ABCMeta, abstractmethod
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.model import BaseModule
from torch import Tensor

from mmmtl.utils.labelled_fields import labelled_fields
from ..distillation import TaskDistiller

Features = Tuple[Tensor, ...]


class BaseTask(BaseModule, metaclass=ABCMeta):
    """Base of the task modules of :class:`MultiTaskDetector`.

    A task reads the shared features (the neck's outputs, or the backbone's
    when the model has no shared neck), optionally through a neck of its own
    (soft sharing), and

    * ``loss(feats, data_samples)`` returns its loss dict, computed only on
      the samples that carry its labels (see :meth:`is_labeled`);
    * ``predict(feats, data_samples, rescale)`` writes its predictions into
      the data samples;
    * ``forward(feats)`` returns the head's raw outputs, and
      ``predict_by_feat(outs, data_samples, rescale)`` turns such raw outputs
      into the predictions (``predict`` is the two in a row), so that raw
      outputs computed elsewhere, e.g. by an ONNX runtime, are
      post-processed exactly as in PyTorch;
    * ``prediction_dict(data_sample)`` gives its prediction as plain Python
      values, for tasks whose predictions are not boxes or a semantic map
      (those are read by the inferencer directly); None by default.

    ``label_field`` names the label this task learns from: a data field of
    the samples (``'gt_instances'``, ``'gt_sem_seg'``) or a metainfo key
    (an image-level label). A sample is labelled for the task when that
    field is among its ``labelled_fields`` (the one partial-label rule, see
    :mod:`mmmtl.utils.labelled_fields`); ``None`` (a task whose targets do
    not come from annotations) takes every sample.

    An auxiliary task (``auxiliary=True`` in its config) is trained and
    balanced like the others but is not part of the model's output: it is
    left out of ``predict``, of the raw outputs (``_forward``, ONNX export)
    and of evaluation (the tools drop the evaluator metrics that only
    auxiliary tasks would answer).

    ``task_kind`` says what a task predicts (``'detection'``,
    ``'segmentation'``, ``'classification'``; ``'other'`` by default): the
    tools use it to keep an evaluator's metrics with their task
    (``tools/train.py --tasks``) and to pick a task's primary metric
    (``tools/analysis_tools/delta_m.py``).

    Args:
        neck (dict, optional): A task-specific neck on the shared features.
        auxiliary (bool): Train the task but do not predict with it.
            Default False.
        distill (dict, optional): Distil a single-task teacher into this
            task: the arguments of a :class:`TaskDistiller` (Li & Bilen
            2020), whose losses join this task's on every sample.
        init_cfg (dict, optional): Initialisation config.
    """

    task_kind = 'other'
    label_field: Optional[str] = None

    def __init__(self, neck: Optional[dict] = None, auxiliary: bool = False,
                 distill: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.auxiliary = bool(auxiliary)
        self.distiller = TaskDistiller(**distill) if distill else None

    def task_features(self, feats: Features) -> Features:
        """The features this task's head reads."""
        return tuple(self.neck(feats)) if self.neck is not None else feats

    def is_labeled(self, data_sample: DetDataSample) -> bool:
        """Whether ``data_sample`` is labelled for this task: its
        ``label_field`` is among the sample's labelled fields."""
        return self.label_field is None or \
            self.label_field in labelled_fields(data_sample)

    @abstractmethod
    def loss_on_labeled(self, feats: Features,
                        data_samples: List[DetDataSample]) -> Dict[str, Tensor]:
        """Loss on a batch in which every sample carries this task's labels."""

    def predict(self, feats: Features, data_samples: List[DetDataSample],
                rescale: bool = True) -> None:
        """Write this task's predictions into ``data_samples``."""
        self.predict_by_feat(self.forward(feats), data_samples, rescale)

    def predict_by_feat(self, outs, data_samples: List[DetDataSample],
                        rescale: bool = True) -> None:
        """Write the predictions given by raw outputs ``outs`` (as
        :meth:`forward` returns them) into ``data_samples``."""
        raise NotImplementedError(
            f'{type(self).__name__} does not post-process raw outputs '
            '(no predict_by_feat)')

    def prediction_dict(self, data_sample: DetDataSample) -> Optional[dict]:
        """This task's prediction in ``data_sample`` as JSON-ready values
        (None: nothing beyond boxes/semantic maps)."""
        return None

    @abstractmethod
    def forward(self, feats: Features):
        """The head's raw outputs (no post-processing)."""

    def loss(self, feats: Features,
             data_samples: Sequence[DetDataSample]) -> Dict[str, Tensor]:
        """Loss over the samples that carry this task's labels, plus the
        distillation losses (``distill``) over all samples.

        Samples without labels are left out of the batch (their features
        are not seen by the head), so a missing label is neither read as
        "no objects" nor as "all pixels ignored". A batch with no labelled
        sample (and no distillation) gives an empty dict: the task
        contributes nothing this step.
        """
        losses = {}
        if self.distiller is not None:
            losses.update(self.distiller.loss(feats, self.forward,
                                              data_samples))
        keep = [i for i, s in enumerate(data_samples) if self.is_labeled(s)]
        if not keep:
            return losses
        if len(keep) < len(data_samples):
            index = torch.as_tensor(keep, device=feats[0].device)
            feats = tuple(f.index_select(0, index) for f in feats)
            data_samples = [data_samples[i] for i in keep]
        losses.update(self.loss_on_labeled(self.task_features(feats),
                                           list(data_samples)))
        return losses
