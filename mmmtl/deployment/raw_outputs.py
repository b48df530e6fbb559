"""The multi-task detector as one exportable graph: pixels in, raw outputs out.

Every predicted task's raw head outputs become named graph outputs (an
auxiliary task is trained only, and has none):

* a task whose forward returns one tensor (semantic segmentation logits,
  classification logits) gives one output named after the task: ``seg``;
* a dense detection head returns groups of per-level tensors; each level is
  an output ``<task>.<group>.<level>``, the groups named after the head's
  ``predict_by_feat`` arguments: ``det.cls_scores.0``, ``det.bbox_preds.0``,
  (FCOS) ``det.score_factors.0``;
* a flat tuple of tensors gives ``<task>.<index>``.

:func:`group_raw_outputs` turns such named outputs back into what each
task's ``forward`` returned, for its ``predict_by_feat``.
"""
import inspect
from typing import Dict, List, Sequence, Tuple

import torch
from torch import Tensor, nn

from mmmtl.models.tasks import BaseTask

Named = List[Tuple[str, Tensor]]


def _group_names(task: nn.Module, count: int) -> List[str]:
    """Names of the output groups: the head's ``predict_by_feat`` args."""
    predict_by_feat = getattr(getattr(task, 'head', None),
                              'predict_by_feat', None)
    if predict_by_feat is not None:
        params = list(inspect.signature(predict_by_feat).parameters)
        if len(params) >= count:
            return params[:count]
    return [f'out{i}' for i in range(count)]


def name_task_outputs(task_name: str, task: nn.Module, outs) -> Named:
    """``(name, tensor)`` pairs of one task's raw outputs."""
    if isinstance(outs, Tensor):
        return [(task_name, outs)]
    if all(isinstance(o, Tensor) for o in outs):
        return [(f'{task_name}.{i}', o) for i, o in enumerate(outs)]
    groups = _group_names(task, len(outs))
    return [(f'{task_name}.{group}.{level}', t)
            for group, level_outs in zip(groups, outs)
            for level, t in enumerate(level_outs)]


def group_raw_outputs(named: Dict[str, Tensor]) -> Dict[str, object]:
    """Task name -> raw outputs shaped as the task's ``forward`` returns
    them (the inverse of :func:`name_task_outputs`)."""
    tensors, flat, groups = {}, {}, {}
    for key, value in named.items():
        task, *rest = key.split('.')
        if not rest:
            tensors[task] = value
        elif len(rest) == 1:
            flat.setdefault(task, {})[int(rest[0])] = value
        elif len(rest) == 2:
            groups.setdefault(task, {}).setdefault(rest[0], {})[
                int(rest[1])] = value
        else:
            raise ValueError(f'raw output name {key!r} is not '
                             '<task>[.<group>][.<level>]')
    out = dict(tensors)
    out.update({t: tuple(v[i] for i in sorted(v)) for t, v in flat.items()})
    out.update({t: tuple([lv[i] for i in sorted(lv)] for lv in g.values())
                for t, g in groups.items()})
    return out


def free_size_upsampling(module: nn.Module) -> int:
    """Replace mmseg's ``Upsample(scale_factor=s)`` in ``module`` by torch's
    ``nn.Upsample(scale_factor=s)``: the same operation, but mmseg's
    computes its output size with ``int()``, which fixes the size of an
    export to that of the example input (a graph with free H and W then
    resizes wrongly at other sizes). Returns how many were replaced."""
    from mmseg.models.utils import Upsample as SegUpsample
    count = 0
    for name, child in module.named_children():
        if isinstance(child, SegUpsample) and not child.size \
                and isinstance(child.scale_factor, float):
            interpolating = child.mode not in ('nearest', 'area',
                                               'nearest-exact')
            setattr(module, name, nn.Upsample(
                scale_factor=child.scale_factor, mode=child.mode,
                align_corners=child.align_corners if interpolating else None))
            count += 1
        else:
            count += free_size_upsampling(child)
    return count


class RawOutputModel(nn.Module):
    """A :class:`MultiTaskDetector` from image pixels to raw task outputs.

    The input is what the detector's data preprocessor takes, as a float
    batch (N, 3, H, W): pixel values 0-255 in the channel order of the
    loaded images (BGR for mmcv's loader); the preprocessor's channel swap
    (``bgr_to_rgb``) and normalisation (``mean``, ``std``) are part of this
    module. Padding is not: H and W must already be the padded size.

    The detector is used in place, with its mmseg ``Upsample`` layers
    replaced by equivalent ones that export with free sizes
    (:func:`free_size_upsampling`).
    """

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector
        for name, task in detector.predicted_tasks.items():
            if type(task).predict_by_feat is BaseTask.predict_by_feat:
                raise ValueError(
                    f'task {name!r} ({type(task).__name__}) cannot be '
                    'exported: its raw outputs have no predict_by_feat to '
                    'post-process them outside PyTorch')
        free_size_upsampling(detector)
        pre = detector.data_preprocessor
        self.flip_channels = bool(getattr(pre, '_channel_conversion', False))
        normalize = bool(getattr(pre, '_enable_normalize', False))
        self.register_buffer(
            'mean', pre.mean.view(1, -1, 1, 1).clone() if normalize else None,
            persistent=False)
        self.register_buffer(
            'std', pre.std.view(1, -1, 1, 1).clone() if normalize else None,
            persistent=False)

    def named_outputs(self, image: Tensor) -> Named:
        """``(name, tensor)`` pairs of every task's raw outputs."""
        x = image.flip(1) if self.flip_channels else image
        if self.mean is not None:
            x = (x - self.mean) / self.std
        tasks = self.detector.predicted_tasks
        per_task = self.detector.task_features(
            self.detector.extract_feat(x), list(tasks))
        named = []
        for name, task in tasks.items():
            named += name_task_outputs(name, task, task(per_task[name]))
        return named

    def forward(self, image: Tensor) -> Tuple[Tensor, ...]:
        return tuple(t for _, t in self.named_outputs(image))

    def output_names(self, image: Tensor) -> Sequence[str]:
        with torch.no_grad():
            return [name for name, _ in self.named_outputs(image)]
