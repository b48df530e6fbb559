"""Input checks shared by the balancers (messages name the method)."""
from typing import Optional

import torch
from torch import Tensor, nn


def require_num_tasks(balancer: nn.Module, num_tasks: Optional[int]) -> int:
    """``num_tasks``, or a ``ValueError`` naming the method and the key."""
    if num_tasks is None:
        raise ValueError(
            f'{type(balancer).__name__} keeps per-task state and needs '
            f'`num_tasks` in its config (MultiTaskOptimWrapperConstructor '
            f'passes it)')
    if int(num_tasks) < 1:
        raise ValueError(f'{type(balancer).__name__}: `num_tasks` must be '
                         f'positive, got {num_tasks}')
    return int(num_tasks)


def check_positive_losses(balancer: nn.Module, losses: Tensor,
                          offset: Optional[Tensor] = None) -> None:
    """``ValueError`` naming the method if a loss (minus ``offset``) is
    negative or not finite: methods that take logarithms or ratios of the
    losses need them positive."""
    shifted = losses if offset is None else losses - offset
    if not torch.isfinite(losses).all() or (shifted < 0).any():
        what = 'losses' if offset is None else 'losses minus `min_losses`'
        raise ValueError(f'{type(balancer).__name__} needs finite, '
                         f'non-negative {what}, got {losses.tolist()}')
