"""Checks of a multi-task config that name the config key and both numbers.

A head that reads the shared features wrongly (channels, indices, strides,
number of levels) or has another number of classes than the dataset
otherwise fails deep inside a convolution or a loss, or trains silently on
the wrong thing. Checked:

* at build time, against the shared neck's ``out_channels`` and
  ``num_outs`` (FPN and the like), before the heads are built
  (:func:`install_feature_checks`, called by :class:`MultiTaskDetector`);
* at the first forward pass, against the shared features themselves (any
  backbone or neck; strides too, from the input size);
* before training, validation or testing, the heads' ``num_classes``
  against the dataset's ``classes`` / ``seg_classes`` and the balancer's
  per-task options against the model's tasks (:func:`check_classes`,
  :func:`check_balancer`, run by :class:`ConfigCheckHook`).
"""
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

HW = Tuple[int, int]


class SharedFeatures(NamedTuple):
    """What the heads get: channels per map (None: unknown) and, from a
    forward pass, the maps' and the input's sizes; ``source`` says where
    the numbers come from, for the messages."""
    channels: List[Optional[int]]
    source: str
    sizes: Optional[List[HW]] = None
    input_size: Optional[HW] = None


def neck_features(neck: Optional[nn.Module]) -> Optional[SharedFeatures]:
    """The shared features as a neck's settings give them (None: unknown)."""
    out, num = (getattr(neck, 'out_channels', None),
                getattr(neck, 'num_outs', None))
    if not isinstance(out, int) or not isinstance(num, int):
        return None
    return SharedFeatures(
        [out] * num, f'model.neck ({type(neck).__name__}) gives '
        f'model.neck.num_outs={num} maps of model.neck.out_channels={out} '
        f'channels')


def batch_features(input_size: Optional[HW],
                   feats: Sequence[Tensor]) -> SharedFeatures:
    """The shared features of a forward pass."""
    channels = [int(f.shape[1]) for f in feats]
    size = f'a {input_size[0]}x{input_size[1]} input' if input_size \
        else 'the first input'
    return SharedFeatures(
        channels, f'the shared features of {size}: {len(feats)} maps of '
        f'{channels} channels', [tuple(f.shape[-2:]) for f in feats],
        input_size)


def _heads(tasks: Dict[str, dict]) -> Iterator[Tuple[str, dict]]:
    """(config key, config) of every head reading the shared features."""
    for name, cfg in tasks.items():
        if cfg.get('neck') is not None:
            continue  # reads its own neck's outputs
        key = f'model.tasks.{name}'
        if 'in_channels' in cfg:   # the task is its head (classification)
            yield key, dict(cfg, in_index=cfg.get('in_index', -1))
        for head in ('head', 'rpn_head'):
            if isinstance(cfg.get(head), dict):
                yield f'{key}.{head}', cfg[head]


def check_heads(tasks: Dict[str, dict], shared: SharedFeatures) -> None:
    """Every head's inputs against the shared features."""
    for key, head in _heads(tasks):
        if 'in_index' in head:
            _check_selected(key, head, shared)
            continue
        # a dense detection head reads every map
        _check_levels(key, head, shared)
        for i in range(len(shared.channels)):
            _check_channels(f'{key}.in_channels', head.get('in_channels'), i,
                            shared)


def _as_list(value) -> Optional[list]:
    return list(value) if isinstance(value, (list, tuple)) else None


def _check_selected(key: str, head: dict, shared: SharedFeatures) -> None:
    """A head reading the maps ``in_index`` selects (mmseg decode heads,
    image classification)."""
    index, num = head['in_index'], len(shared.channels)
    indices = _as_list(index) or [index]
    for i in indices:
        if not -num <= i < num:
            raise ValueError(
                f'{key}.in_index={index}: map {i} is not among the {num} '
                f'shared feature maps (0..{num - 1}; {shared.source})')
    indices = [i % num for i in indices]
    channels = head.get('in_channels')
    for option in ('in_channels', 'feature_strides'):
        value = _as_list(head.get(option))
        if _as_list(index) is not None and value is not None \
                and len(value) != len(indices):
            raise ValueError(
                f'{key}.{option} has {len(value)} entries but {key}.in_index'
                f'={index} selects {len(indices)} maps (one entry per map)')
    for j, i in enumerate(indices):
        if _as_list(channels) is None:
            _check_channels(f'{key}.in_channels', channels, i, shared)
        elif _as_list(index) is not None:
            _check_channels(f'{key}.in_channels[{j}]', channels[j], i, shared)
    for j, stride in enumerate(head.get('feature_strides') or ()):
        _check_stride(f'{key}.feature_strides[{j}]', stride, indices[j],
                      shared)


def _check_channels(key: str, expected, i: int,
                    shared: SharedFeatures) -> None:
    actual = shared.channels[i]
    if isinstance(expected, int) and actual is not None and expected != actual:
        raise ValueError(f'{key}={expected} but shared feature map {i} has '
                         f'{actual} channels ({shared.source})')


def _level_strides(head: dict) -> Tuple[str, Optional[list]]:
    """(option, strides) of a dense head's levels, if its config says."""
    for gen in ('anchor_generator', 'prior_generator'):
        if isinstance(head.get(gen), dict) and 'strides' in head[gen]:
            return f'{gen}.strides', list(head[gen]['strides'])
    if 'strides' in head:
        return 'strides', list(head['strides'])
    return '', None


def _check_levels(key: str, head: dict, shared: SharedFeatures) -> None:
    """A dense head's levels (anchor/point strides) against the maps."""
    option, strides = _level_strides(head)
    if strides is None:
        return
    if len(strides) != len(shared.channels):
        raise ValueError(
            f'{key}.{option} has {len(strides)} levels ({strides}) but the '
            f'head gets {len(shared.channels)} maps ({shared.source})')
    for i, stride in enumerate(strides):
        _check_stride(f'{key}.{option}[{i}]', stride, i, shared)


def _check_stride(key: str, stride, i: int, shared: SharedFeatures) -> None:
    """A stride (int, or mmdet's (w, h)) fits a map that has the input's
    size divided by it, rounded either way."""
    if shared.sizes is None or shared.input_size is None:
        return
    hw_stride = (stride[1], stride[0]) if _as_list(stride) else (stride, ) * 2
    size = shared.sizes[i]
    for s, n, total in zip(hw_stride, size, shared.input_size):
        if n not in (total // s, -(-total // s)):
            raise ValueError(
                f'{key}={stride} but shared feature map {i} is '
                f'{size[0]}x{size[1]}, stride {total / n:g} '
                f'({shared.source})')


class _FirstForwardCheck:
    """Checks the heads against the shared features of the first forward
    pass (a backbone pre-hook notes the input size, a hook on the last
    shared module gets the features), then removes its hooks."""

    def __init__(self, tasks: Dict[str, dict], backbone: nn.Module,
                 last: nn.Module) -> None:
        self.tasks, self.input_size, self.done = tasks, None, False
        self.handles = [backbone.register_forward_pre_hook(self.note_input),
                        last.register_forward_hook(self.check)]

    def note_input(self, module, args) -> None:
        if args and isinstance(args[0], Tensor) and args[0].dim() == 4:
            self.input_size = tuple(args[0].shape[-2:])

    def check(self, module, args, output) -> None:
        if self.done or torch.jit.is_tracing() or \
                torch.compiler.is_compiling():
            return
        self.done = True
        for handle in self.handles:
            handle.remove()
        feats = output if isinstance(output, (list, tuple)) else (output, )
        check_heads(self.tasks, batch_features(self.input_size, feats))


def install_feature_checks(model: nn.Module,
                           tasks: Dict[str, dict]) -> None:
    """Check the task configs against ``model``'s built backbone/neck now,
    and against the shared features at its first forward pass. Call it
    before the tasks are built (mmseg's own checks are bare asserts)."""
    neck = getattr(model, 'neck', None)
    shared = neck_features(neck)
    if shared is not None:
        check_heads(tasks, shared)
    _FirstForwardCheck({k: dict(v) for k, v in tasks.items()},
                       model.backbone, neck or model.backbone)
