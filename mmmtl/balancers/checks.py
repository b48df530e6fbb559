"""Input checks shared by the balancers (messages name the method)."""
from typing import Optional, Sequence

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
    shifted = losses if offset is None else losses - offset.to(losses)
    if not torch.isfinite(losses).all() or (shifted < 0).any():
        what = 'losses' if offset is None else 'losses minus `min_losses`'
        raise ValueError(f'{type(balancer).__name__} needs finite, '
                         f'non-negative {what}, got {losses.tolist()}')


def check_loss_vector(balancer: nn.Module, losses: Tensor,
                      num_tasks: Optional[int], subsets: bool) -> None:
    """``losses`` is a 1-D tensor with at most ``num_tasks`` entries (all of
    them unless the method weighs task ``subsets``)."""
    name = type(balancer).__name__
    if not isinstance(losses, Tensor) or losses.dim() != 1:
        shape = tuple(losses.shape) if isinstance(losses, Tensor) else \
            type(losses).__name__
        raise ValueError(f'{name} expects a 1-D tensor of task losses, got '
                         f'{shape}')
    n = losses.numel()
    if num_tasks is not None and (n > num_tasks or
                                  (n < num_tasks and not subsets)):
        raise ValueError(f'{name} was built for {num_tasks} tasks but got '
                         f'{n} losses')


def check_task_positions(balancer: nn.Module, tasks: Sequence[int],
                         num_losses: int, num_tasks: Optional[int]) -> None:
    """``tasks``: one distinct position per loss, within ``num_tasks``."""
    name = type(balancer).__name__
    if len(tasks) != num_losses:
        raise ValueError(f'{name}: {len(tasks)} task positions for '
                         f'{num_losses} task losses')
    if len(set(tasks)) != len(tasks) or min(tasks, default=0) < 0 or (
            num_tasks is not None and max(tasks, default=0) >= num_tasks):
        raise ValueError(f'{name}: task positions must be distinct and in '
                         f'[0, {num_tasks}), got {list(tasks)}')


def check_matrix(balancer: nn.Module, what: str, matrix: Tensor,
                 rows: int, cols: Optional[int]) -> None:
    """``matrix`` is ``rows x cols`` (any width if ``cols`` is None)."""
    if not isinstance(matrix, Tensor) or matrix.dim() != 2 or \
            matrix.shape[0] != rows or (cols is not None and
                                        matrix.shape[1] != cols):
        shape = tuple(matrix.shape) if isinstance(matrix, Tensor) else \
            type(matrix).__name__
        want = f'{rows} x {cols}' if cols is not None else f'{rows} x P'
        raise ValueError(f'{type(balancer).__name__} expects a {want} '
                         f'{what} for {rows} losses, got shape {shape}')


def check_output(balancer: nn.Module, what: str, out: Tensor,
                 size: int) -> None:
    """The method's result is a vector of ``size`` entries."""
    if not isinstance(out, Tensor) or tuple(out.shape) != (size, ):
        shape = tuple(out.shape) if isinstance(out, Tensor) else \
            type(out).__name__
        raise RuntimeError(f'{type(balancer).__name__} returned {what} of '
                           f'shape {shape}, expected ({size},)')
