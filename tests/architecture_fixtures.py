"""The tests' tiny models as Cross-Stitch, MTAN and sharing-tree models, and
the worker of their 2-process DDP check (a module of its own so that
spawned processes can import it)."""
import torch
from mmdet.registry import MODELS
from mmengine.optim import build_optim_wrapper

from mtl_ddp_worker import _finish, _split, ddp_model_cfg, init_ranks
from mtl_fixtures import random_batch, tiny_model_cfg

ARCHITECTURES = {
    'hard': {},
    'cross-stitch': dict(type='CrossStitchDetector'),
    'mtan': dict(type='MTANDetector',
                 attention_norm_cfg=dict(type='GN', num_groups=4)),
    'tree': dict(type='SharingTreeDetector', branch_stage=2,
                 groups=dict(det_group=['det'], dense=['seg'])),
}


def arch_cfg(kind, base=None, **kwargs):
    """The tests' tiny RetinaNet + Semantic-FPN model (or ``base``) as
    architecture ``kind`` (a key of ARCHITECTURES), with ``kwargs``."""
    cfg = base or tiny_model_cfg()
    cfg.update(ARCHITECTURES[kind])
    cfg.update(kwargs)
    return cfg


def build(cfg, balancer='UPGrad', mode='feature', **wrapper_kwargs):
    """The model of ``cfg`` (seeded) and a MultiTaskOptimWrapper (SGD)."""
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    wrapper = build_optim_wrapper(model, dict(
        type='MultiTaskOptimWrapper',
        constructor='MultiTaskOptimWrapperConstructor',
        optimizer=dict(type='SGD', lr=0.05, momentum=0.9),
        balancer=dict(type=balancer), jacobian_mode=mode, **wrapper_kwargs))
    return model, wrapper


def arch_ddp_cfg(kind):
    """The DDP test's FCOS + Semantic FPN model as architecture ``kind``
    (MTAN with GroupNorm in the attention: BatchNorm's statistics differ
    between 2 ranks of 2 images and 1 process of 4)."""
    return arch_cfg(kind, base=ddp_model_cfg())


def arch_ddp_worker(rank, world, init_method, kind, balancer, mode,
                    out_path):
    """Two training steps of architecture ``kind`` under
    MultiTaskDistributedDataParallel, each rank on its half of the batch;
    writes the weights and logs."""
    init_ranks(rank, world, init_method)
    from mmmtl.engine import MultiTaskDistributedDataParallel
    model, wrapper = build(arch_ddp_cfg(kind), balancer, mode)
    ddp = MultiTaskDistributedDataParallel(module=model)
    logs = []
    for step in range(2):
        batch = _split(random_batch(4, seed=step), rank, world)
        logs.append({k: float(v) for k, v in
                     ddp.train_step(batch, wrapper).items()
                     if k.startswith('weight.')})
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    torch.save(dict(state=state if rank == 0 else None, logs=logs),
               f'{out_path}.{rank}')
    _finish()
