"""A backbone taken stage by stage, for architectures that work between
its stages (cross-stitch units, task attention, a sharing tree's split).

Supported: mmdet's ResNet family (``ResNet``, ``ResNetV1d``, ``ResNeXt``,
``RegNet``, ``Res2Net``...: a stem, then ``res_layers``) and backbones that
list their parts in ``layers`` with the stem first (``CSPDarknet``,
``CSPNeXt``). The backbone's own ``forward`` is::

    x = stem(image); for i, stage in enumerate(stages): x = stage(x);
    output x if i in out_indices

and the functions here run the same pieces one at a time. Stage ``i`` is
the i-th of ``res_layers`` (ResNet ``layer{i+1}``) or the ``i+1``-th of
``layers`` (after the stem); :func:`out_indices` counts in stages.
"""
from typing import List, Sequence, Tuple

import torch
from torch import Tensor, nn


def _stage_names(backbone: nn.Module, key: str = 'model.backbone'
                 ) -> List[str]:
    if hasattr(backbone, 'res_layers'):
        return list(backbone.res_layers)
    if hasattr(backbone, 'layers') and isinstance(backbone.layers, list):
        return list(backbone.layers[1:])
    raise TypeError(
        f'{key}.type={type(backbone).__name__}: this architecture runs the '
        'backbone stage by stage and knows backbones with `res_layers` '
        "(mmdet's ResNet family) or a `layers` list (CSPDarknet, CSPNeXt)")


def num_stages(backbone: nn.Module) -> int:
    return len(_stage_names(backbone))


def stage(backbone: nn.Module, i: int) -> nn.Module:
    """Stage ``i`` (a module, usually an ``nn.Sequential`` of blocks)."""
    return getattr(backbone, _stage_names(backbone)[i])


def out_indices(backbone: nn.Module) -> Tuple[int, ...]:
    """The stages whose outputs the backbone returns. (A ``layers``
    backbone counts its stem as layer 0: its stage ``i`` is its layer
    ``i + 1``.)"""
    if hasattr(backbone, 'res_layers'):
        return tuple(backbone.out_indices)
    if 0 in backbone.out_indices:
        raise ValueError('model.backbone.out_indices includes 0 (the stem): '
                         'this architecture hands on stage outputs only')
    return tuple(i - 1 for i in backbone.out_indices)


def run_stem(backbone: nn.Module, image: Tensor) -> Tensor:
    """What the backbone does before its first stage."""
    if hasattr(backbone, 'res_layers'):
        if backbone.deep_stem:
            x = backbone.stem(image)
        else:
            x = backbone.relu(backbone.norm1(backbone.conv1(image)))
        return backbone.maxpool(x)
    return getattr(backbone, backbone.layers[0])(image)


def stem_modules(backbone: nn.Module) -> List[nn.Module]:
    """The backbone's children that are not stages (the stem)."""
    names = set(_stage_names(backbone))
    return [m for n, m in backbone.named_children() if n not in names]


def stage_modules(backbone: nn.Module, start: int,
                  end: int) -> List[nn.Module]:
    """Stages ``start .. end - 1``."""
    return [stage(backbone, i) for i in range(start, end)]


def run_stages(backbone: nn.Module, x: Tensor, start: int, end: int,
               outs: List[Tensor]) -> Tensor:
    """Run stages ``start .. end - 1`` on ``x``, appending to ``outs`` the
    outputs of those in ``out_indices``; returns the last output."""
    wanted = out_indices(backbone)
    for i in range(start, end):
        x = stage(backbone, i)(x)
        if i in wanted:
            outs.append(x)
    return x


def drop_modules(backbone: nn.Module, modules: Sequence[nn.Module]) -> None:
    """Replace children of ``backbone`` by ``nn.Identity`` (parts that
    another copy of the backbone runs), keeping its own init, frozen stages
    and norm_eval logic working on what is left."""
    drop = {id(m) for m in modules}
    for name, child in list(backbone.named_children()):
        if id(child) in drop:
            setattr(backbone, name, nn.Identity())


def split_stage(stage_module: nn.Module) -> Tuple[nn.Module, nn.Module]:
    """(all blocks but the last, the last block) of a stage."""
    if not isinstance(stage_module, nn.Sequential) or len(stage_module) < 2:
        raise TypeError(
            'model.backbone: this architecture reads each stage before its '
            'last block, so every stage must be an nn.Sequential of at '
            f'least 2 blocks; got a {type(stage_module).__name__} of '
            f'{len(stage_module) if hasattr(stage_module, "__len__") else 1}')
    # a plain Sequential: subclasses (mmdet's ResLayer) cannot be sliced
    blocks = list(stage_module)
    return nn.Sequential(*blocks[:-1]), blocks[-1]


def probe_stages(backbone: nn.Module, in_channels: int = 3,
                 size: int = 64) -> List[Tuple[torch.Size, torch.Size]]:
    """Per stage, the shapes of (its features before the last block, its
    output), from a forward pass of a ``size`` x ``size`` zero image in
    eval mode (running statistics untouched). A stage that is not an
    ``nn.Sequential`` gives its input's shape first."""
    was_training = backbone.training
    backbone.eval()
    shapes = []
    try:
        with torch.no_grad():
            x = run_stem(backbone, torch.zeros(1, in_channels, size, size))
            for i in range(num_stages(backbone)):
                module = stage(backbone, i)
                u = split_stage(module)[0](x) if isinstance(
                    module, nn.Sequential) and len(module) > 1 else x
                x = module(x)
                shapes.append((u.shape, x.shape))
    finally:
        backbone.train(was_training)
    return shapes


def stage_channels(backbone: nn.Module) -> List[int]:
    """Channels of every stage's output."""
    return [int(p[1]) for _, p in probe_stages(backbone)]
