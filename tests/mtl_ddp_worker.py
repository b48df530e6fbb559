"""Worker of the 2-process DDP test (a module of its own so that spawned
processes can import it)."""
import copy
import os
import socket
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmdet.registry import MODELS
from mmengine.optim import build_optim_wrapper

from mtl_fixtures import random_batch, tiny_model_cfg, without_seg_labels


def run_ranks(fn, args, nprocs=2, timeout=180):
    """Run ``fn(rank, *args)`` in ``nprocs`` spawned processes; fail (after
    killing them) rather than hang if they are not done in ``timeout`` s."""
    import pytest
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


def _finish():
    """Tear down together: no rank leaves while another still talks."""
    dist.barrier()
    dist.destroy_process_group()


def free_port():
    """A free TCP port on localhost for a process group's rendezvous."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def ddp_model_cfg():
    """FCOS (its loss normalisers are averaged over ranks) + a Semantic FPN
    head averaging over pixels: the mean of the two ranks' losses is the
    loss of the global batch, so a 2-process run must match 1 process."""
    cfg = tiny_model_cfg(det_head='FCOSHead')
    cfg['tasks']['seg']['head']['loss_decode']['avg_non_ignore'] = True
    return cfg


def _build(balancer, mode):
    torch.manual_seed(0)
    model = MODELS.build(ddp_model_cfg())
    model.init_weights()
    wrapper = build_optim_wrapper(model, dict(
        type='MultiTaskOptimWrapper',
        constructor='MultiTaskOptimWrapperConstructor',
        optimizer=dict(type='SGD', lr=0.05, momentum=0.9),
        balancer=dict(type=balancer), jacobian_mode=mode))
    return model, wrapper


def _train(model, wrapper, batches):
    for batch in batches:
        model.train_step(copy.deepcopy(batch), wrapper)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _split(batch, rank, world):
    n = len(batch['inputs']) // world
    return {k: v[rank * n:(rank + 1) * n] for k, v in batch.items()}


def _worker(rank, world, port, balancer, mode, out_path,
            seg_labels_on_rank0_only=False):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    torch.set_num_threads(1)
    import mmmtl  # noqa: F401
    from mmdet.utils import register_all_modules
    register_all_modules()
    from mmmtl.engine import MultiTaskDistributedDataParallel
    model, _ = _build(balancer, mode)
    ddp = MultiTaskDistributedDataParallel(module=model)
    wrapper = build_optim_wrapper(ddp, dict(
        type='MultiTaskOptimWrapper',
        constructor='MultiTaskOptimWrapperConstructor',
        optimizer=dict(type='SGD', lr=0.05, momentum=0.9),
        balancer=dict(type=balancer), jacobian_mode=mode))
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


def _worker_inf_on_one_rank(rank, world, port, mode, out_path):
    """fp16 with a loss scaler; on the second step only rank 0's seg loss
    is inf. Both ranks must skip that step (no hang, no update)."""
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    torch.set_num_threads(1)
    import mmmtl  # noqa: F401
    from mmdet.utils import register_all_modules
    register_all_modules()
    from mmmtl.engine import MultiTaskDistributedDataParallel
    model, _ = _build('MGDA', mode)
    ddp = MultiTaskDistributedDataParallel(module=model)
    wrapper = build_optim_wrapper(ddp, dict(
        type='MultiTaskOptimWrapper',
        constructor='MultiTaskOptimWrapperConstructor',
        optimizer=dict(type='SGD', lr=0.05),
        balancer=dict(type='MGDA'), jacobian_mode=mode, amp=True,
        dtype='float16', loss_scale=dict(init_scale=256.0)))
    ddp.train_step(_split(random_batch(4, seed=0), rank, world), wrapper)
    scale = wrapper.loss_scaler.get_scale()
    if rank == 0:
        poison_seg_loss(model)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    ddp.train_step(_split(random_batch(4, seed=1), rank, world), wrapper)
    unchanged = all(torch.equal(v, before[k])
                    for k, v in model.state_dict().items())
    torch.save(dict(scale=scale, scale_after=wrapper.loss_scaler.get_scale(),
                    unchanged=unchanged), f'{out_path}.{rank}')
    _finish()
