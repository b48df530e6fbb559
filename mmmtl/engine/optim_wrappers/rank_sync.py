"""What the task-balancing optim wrapper agrees on over the ranks itself.

:class:`MultiTaskDistributedDataParallel` bypasses DDP's forward and its
gradient reducer (per-task gradients are taken with ``torch.autograd.grad``,
which the reducer cannot follow), so the gradient averaging, the buffer
broadcast and every decision that must be the same on all ranks are made
here. Outside distributed training every function is a no-op.
"""
from typing import Dict, List, Sequence

import torch
import torch.distributed as torch_dist
from mmengine.dist import get_world_size, is_distributed
from torch import Tensor, nn


def world_size() -> int:
    """The number of ranks (1 outside distributed training)."""
    return get_world_size() if is_distributed() else 1


def all_ranks(flag: bool, device: torch.device) -> bool:
    """Whether ``flag`` holds on every rank (the same answer on all)."""
    if world_size() == 1:
        return flag
    value = torch.tensor(float(flag), device=device)
    torch_dist.all_reduce(value, op=torch_dist.ReduceOp.MIN)
    return bool(value)


def mean_over_ranks(values: Tensor) -> Tensor:
    """The mean of ``values`` over the ranks (a new tensor)."""
    if world_size() == 1:
        return values
    values = values.clone()
    torch_dist.all_reduce(values)
    return values / world_size()


def agree_on_tasks(task_losses: Dict[str, Tensor], task_names: List[str],
                   head_inputs: Sequence[Tensor],
                   device: torch.device) -> Dict[str, Tensor]:
    """Make every rank see the same tasks, each averaged over the ranks that
    have its labels.

    A task that some rank has labels for but this one has not gets a zero
    loss here (its gradients from this rank are zero, as the rank's samples
    say nothing about it), keeping the collectives in step. The gradients
    are then averaged over all ``world`` ranks, so a task labelled on only
    ``k`` of them has its loss multiplied by ``world / k`` on those ``k``:
    the average is then the mean over the ranks that saw its labels, as one
    process on the global batch computes it.
    """
    world = world_size()
    if world == 1:
        return task_losses
    present = torch.tensor([n in task_losses for n in task_names],
                           dtype=torch.float32, device=device)
    torch_dist.all_reduce(present)
    out = dict(task_losses)
    for name, ranks in zip(task_names, present.tolist()):
        if not ranks:
            continue
        if name not in out:
            out[name] = sum(f.sum() for f in head_inputs) * 0.0
        elif ranks < world:
            out[name] = out[name] * (world / ranks)
    return out


def average_gradients(params: Sequence[nn.Parameter]) -> None:
    """Average the gradients of ``params`` over the ranks, as DDP's reducer
    does: a parameter that some rank has no gradient for counts as zero
    there; one that no rank has a gradient for keeps none (so optimizers
    such as AdamW leave it alone, as in one process)."""
    if world_size() == 1:
        return
    params = [p for p in params if p.requires_grad]
    if not params:
        return
    device = params[0].device
    has_grad = torch.tensor([p.grad is not None for p in params],
                            dtype=torch.float32, device=device)
    torch_dist.all_reduce(has_grad)
    params = [p for p, n in zip(params, has_grad.tolist()) if n]
    if not params:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p)
             for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    torch_dist.all_reduce(flat)
    flat.div_(world_size())
    for p, g in zip(params, flat.split([g.numel() for g in grads])):
        p.grad = g.view_as(p).to(p.dtype)


def broadcast_buffers(module: nn.Module) -> None:
    """Rank 0's buffers (BatchNorm running statistics) to every rank, as DDP
    does at the start of each forward (``broadcast_buffers=True``)."""
    if world_size() == 1:
        return
    by_dtype: Dict[torch.dtype, List[Tensor]] = {}
    for buf in module.buffers():
        by_dtype.setdefault(buf.dtype, []).append(buf)
    for bufs in by_dtype.values():
        flat = torch.cat([b.reshape(-1) for b in bufs])
        torch_dist.broadcast(flat, src=0)
        for b, value in zip(bufs, flat.split([b.numel() for b in bufs])):
            b.copy_(value.view_as(b))
