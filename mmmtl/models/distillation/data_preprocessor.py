"""Runs the frozen teachers on each training batch, beside the student."""
from typing import Dict, Optional

import torch
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmdet.registry import MODELS
from torch import Tensor, nn

from .nested import sample_of
from .task_distiller import TEACHER_OUTPUTS
from .teachers import check_teacher_spec, load_teacher


def _values(tensor: Optional[Tensor]) -> Optional[list]:
    return None if tensor is None else tensor.flatten().tolist()


@MODELS.register_module()
class DistillationDataPreprocessor(DetDataPreprocessor):
    """mmdet's ``DetDataPreprocessor`` that, in training, also runs the
    single-task teachers on the preprocessed batch and writes their outputs
    into each sample's ``teacher_outputs`` field (``{teacher: dict(
    feats=its shared features, logits=its task head's raw outputs or
    None)}``), where the student's :class:`TaskDistiller` s read them.

    The teachers (:func:`load_teacher`) are built on the first training
    batch, run in eval mode under ``torch.no_grad()``, and are not
    submodules of the model: they get no gradient, are not in the
    optimizer, not in the student's ``state_dict`` or checkpoint, and not
    wrapped by DDP. They see the student's normalised input, so their
    configs must normalise as the student's does (checked).

    Args:
        teachers (dict): Teacher name -> ``dict(config=..., checkpoint=...,
            task=..., logits=False)``: an mmmtl config and the checkpoint of
            its single-task baseline of ``task`` (``tools/train.py CONFIG
            --tasks TASK``); ``logits=True`` also runs the teacher's head.
        **kwargs: ``DetDataPreprocessor``'s arguments.
    """

    def __init__(self, teachers: Dict[str, dict], **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(teachers, dict) or not teachers:
            raise ValueError('DistillationDataPreprocessor: teachers must be '
                             f'a non-empty dict, got {teachers!r}')
        self.teacher_specs = {name: check_teacher_spec(name, dict(spec))
                              for name, spec in teachers.items()}
        # a plain dict: the teachers stay outside the module tree
        self._teachers: Optional[Dict[str, nn.Module]] = None

    @property
    def teachers(self) -> Dict[str, nn.Module]:
        """Teacher name -> frozen teacher model (built on first use)."""
        if self._teachers is None:
            self._teachers = {name: self._checked(name, load_teacher(
                name, spec)) for name, spec in self.teacher_specs.items()}
        return self._teachers

    def _checked(self, name: str, teacher: nn.Module) -> nn.Module:
        theirs = teacher.data_preprocessor
        for key in ('mean', 'std'):
            mine, other = (_values(getattr(m, key, None))
                           for m in (self, theirs))
            if mine != other:
                raise ValueError(
                    f'teachers.{name}: its data_preprocessor.{key} {other} '
                    f"differs from the student's {mine}")
        if self._channel_conversion != theirs._channel_conversion:
            raise ValueError(f'teachers.{name}: bgr_to_rgb differs from the '
                             "student's")
        return teacher

    def forward(self, data: dict, training: bool = False) -> dict:
        data = super().forward(data, training)
        if training:
            self.attach_teacher_outputs(data['inputs'], data['data_samples'])
        return data

    @torch.no_grad()
    def attach_teacher_outputs(self, inputs: Tensor, data_samples) -> None:
        """Write each teacher's outputs on ``inputs`` into the samples."""
        for sample in data_samples:
            if sample.get(TEACHER_OUTPUTS) is None:
                sample.set_field({}, TEACHER_OUTPUTS)
        for name, teacher in self.teachers.items():
            teacher.to(inputs.device)
            feats = teacher.extract_feat(inputs)
            logits = None
            if self.teacher_specs[name]['logits']:
                task = self.teacher_specs[name]['task']
                logits = teacher.tasks[task](
                    teacher.task_features(feats, [task])[task])
            for i, sample in enumerate(data_samples):
                sample.get(TEACHER_OUTPUTS)[name] = dict(
                    feats=sample_of(feats, i),
                    logits=None if logits is None else sample_of(logits, i))
