"""Worker of the 2-process DDP test (a module of its own so that spawned
processes can import it)."""
import copy
import os
import time
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmdet.registry import MODELS
from mmengine.optim import build_optim_wrapper

from mtl_fixtures import random_batch, tiny_model_cfg, without_seg_labels


#: How long a rank waits in a collective before failing (gloo's default,
#: 30 min, would look like a hang)
COLLECTIVE_TIMEOUT = timedelta(seconds=150)


def run_ranks(fn, args, nprocs=2, timeout=300, rendezvous=None):
    """Run ``fn(rank, *args)`` in ``nprocs`` spawned processes; fail (after
    killing them) rather than hang if they are not done in ``timeout`` s.

    With ``rendezvous`` (a directory, e.g. pytest's ``tmp_path``) the
    processes meet through a file there (``fn(rank, nprocs, init_method,
    *args)``, see :func:`init_ranks`), not a TCP port: a port picked free
    and closed can be taken by another process (another test
    run on the same machine) before rank 0 binds it, seconds later, which
    aborted or stalled the ranks."""
    import pytest
    if rendezvous is not None:
        args = (nprocs, f'file://{os.path.join(str(rendezvous), "rdzv")}',
                *args)
    ctx = mp.start_processes(fn, args=args, nprocs=nprocs, join=False,
                             start_method='spawn')
    deadline = time.monotonic() + timeout
    while not ctx.join(timeout=1):
        if time.monotonic() > deadline:
            alive = [r for r, p in enumerate(ctx.processes) if p.is_alive()]
            for proc in ctx.processes:
                proc.kill()
            pytest.fail(f'ranks {alive} still running after {timeout} s '
                        '(waiting in a collective the others never joined?)')


def init_ranks(rank, world, init_method):
    """Join the gloo process group through ``init_method`` (a file), with
    a collective timeout of :data:`COLLECTIVE_TIMEOUT`."""
    dist.init_process_group('gloo', init_method=init_method, rank=rank,
                            world_size=world, timeout=COLLECTIVE_TIMEOUT)
    torch.set_num_threads(1)
    import mmmtl  # noqa: F401
    from mmdet.utils import register_all_modules
    register_all_modules()


def _finish():
    """Tear down together: no rank leaves while another still talks."""
    dist.barrier()
    dist.destroy_process_group()


def ddp_model_cfg():
    """FCOS (its loss normalisers are averaged over ranks) + a Semantic FPN
    head averaging over pixels: the mean of the two ranks' losses is the
    loss of the global batch, so a 2-process run must match 1 process."""
    cfg = tiny_model_cfg(det_head='FCOSHead')
    cfg['tasks']['seg']['head']['loss_decode']['avg_non_ignore'] = True
    return cfg


SGD = dict(type='SGD', lr=0.05, momentum=0.9)
#: weight decay and moments: a parameter given a zero gradient still moves
ADAMW = dict(type='AdamW', lr=0.01, weight_decay=0.05)


def wrapper_cfg(balancer, mode, optimizer=SGD, **kwargs):
    return dict(type='MultiTaskOptimWrapper',
                constructor='MultiTaskOptimWrapperConstructor',
                optimizer=optimizer,
                balancer=balancer if isinstance(balancer, dict)
                else dict(type=balancer),
                jacobian_mode=mode, **kwargs)


def _build(balancer, mode, optimizer=SGD, model_cfg=None, **kwargs):
    torch.manual_seed(0)
    model = MODELS.build(model_cfg or ddp_model_cfg())
    model.init_weights()
    wrapper = build_optim_wrapper(
        model, wrapper_cfg(balancer, mode, optimizer, **kwargs))
    return model, wrapper


def _build_ddp(balancer, mode, optimizer=SGD, model_cfg=None, **kwargs):
    """The model of :func:`_build` under MultiTaskDistributedDataParallel,
    with its optim wrapper."""
    from mmmtl.engine import MultiTaskDistributedDataParallel
    model, _ = _build(balancer, mode, optimizer, model_cfg, **kwargs)
    ddp = MultiTaskDistributedDataParallel(module=model)
    wrapper = build_optim_wrapper(
        ddp, wrapper_cfg(balancer, mode, optimizer, **kwargs))
    return model, ddp, wrapper


def _train(model, wrapper, batches):
    for batch in batches:
        model.train_step(copy.deepcopy(batch), wrapper)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _split(batch, rank, world):
    n = len(batch['inputs']) // world
    return {k: v[rank * n:(rank + 1) * n] for k, v in batch.items()}


def _worker(rank, world, init_method, balancer, mode, out_path,
            seg_labels_on_rank0_only=False):
    init_ranks(rank, world, init_method)
    model, ddp, wrapper = _build_ddp(balancer, mode)
    logs = []
    for step in range(2):
        batch = _split(random_batch(4, seed=step), rank, world)
        if seg_labels_on_rank0_only and rank > 0:
            batch = without_seg_labels(batch)
        logs.append({k: float(v) for k, v in
                     ddp.train_step(batch, wrapper).items()
                     if k.startswith('weight.')})
    if rank == 0:
        torch.save(dict(state={k: v.detach().clone() for k, v in
                               model.state_dict().items()}, logs=logs),
                   out_path)
    else:
        torch.save(dict(logs=logs), out_path + '.1')
    _finish()


def poison_seg_loss(model):
    """Make the seg task's loss inf (fp16 overflow); returns an undo."""
    task = model.tasks['seg']
    orig = task.loss_on_labeled

    def inf_loss(*args, **kwargs):
        losses = orig(*args, **kwargs)
        losses['loss_ce'] = losses['loss_ce'] * float('inf')
        return losses

    task.loss_on_labeled = inf_loss
    return lambda: setattr(task, 'loss_on_labeled', orig)


def _worker_inf_on_one_rank(rank, world, init_method, mode, amp, out_path):
    """On the second step only rank 0's seg loss is inf (with AMP: float16
    and a loss scaler). Both ranks must skip that step (no hang, no
    update; with AMP the scale backs off on both)."""
    init_ranks(rank, world, init_method)
    kwargs = dict(amp=True, dtype='float16',
                  loss_scale=dict(init_scale=256.0)) if amp else {}
    model, ddp, wrapper = _build_ddp('MGDA', mode, dict(type='SGD', lr=0.05),
                                     **kwargs)
    ddp.train_step(_split(random_batch(4, seed=0), rank, world), wrapper)
    scale = wrapper.loss_scaler.get_scale() if amp else None
    if rank == 0:
        poison_seg_loss(model)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    ddp.train_step(_split(random_batch(4, seed=1), rank, world), wrapper)
    unchanged = all(torch.equal(v, before[k])
                    for k, v in model.state_dict().items())
    torch.save(dict(scale=scale, unchanged=unchanged,
                    skipped=wrapper.skipped_steps,
                    scale_after=wrapper.loss_scaler.get_scale() if amp
                    else None), f'{out_path}.{rank}')
    _finish()


def bn_model_cfg():
    """:func:`ddp_model_cfg` with BatchNorm in the backbone."""
    cfg = ddp_model_cfg()
    cfg['backbone']['norm_cfg'] = dict(type='BN', requires_grad=True)
    return cfg


def alternating_batches(rank=0, world=1):
    """Step 0 trains both tasks, step 1 detection only (as
    AlternatingTasksHook does)."""
    return [(None, _split(random_batch(4, seed=0), rank, world)),
            (['det'], _split(random_batch(4, seed=1), rank, world))]


def train_alternating(model, train_step, batches):
    for active, batch in batches:
        model.active_tasks = active
        train_step(copy.deepcopy(batch))
    model.active_tasks = None
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _worker_parity(rank, world, init_method, out_path):
    """(1) Alternating tasks under AdamW; (2) a BatchNorm backbone: the
    buffers each rank holds when each step's forward pass starts."""
    init_ranks(rank, world, init_method)
    model, ddp, wrapper = _build_ddp('EqualWeighting', 'feature', ADAMW)
    state = train_alternating(model, lambda b: ddp.train_step(b, wrapper),
                              alternating_batches(rank, world))
    model, ddp, wrapper = _build_ddp('EqualWeighting', 'feature',
                                     model_cfg=bn_model_cfg())
    at_start, at_end = [], []

    def buffers():
        return {k: b.clone() for k, b in model.named_buffers()}

    model.backbone.register_forward_pre_hook(
        lambda m, a: at_start.append(buffers()))
    for step in range(2):
        ddp.train_step(_split(random_batch(4, seed=step), rank, world),
                       wrapper)
        at_end.append(buffers())
    torch.save(dict(state=state, buffers_at_start=at_start,
                    buffers_at_end=at_end), f'{out_path}.{rank}')
    _finish()


def _worker_model_cfg(rank, world, init_method, model_cfg, out_path):
    """Two steps of ``model_cfg`` (e.g. a distillation student) under DDP,
    each rank on its half of the global batches; rank 0 saves the state."""
    init_ranks(rank, world, init_method)
    model, ddp, wrapper = _build_ddp('EqualWeighting', 'feature',
                                     model_cfg=model_cfg)
    for step in range(2):
        ddp.train_step(_split(random_batch(4, seed=step), rank, world),
                       wrapper)
    if rank == 0:
        torch.save({k: v.detach().clone()
                    for k, v in model.state_dict().items()}, out_path)
    _finish()
