"""Fixed task weights."""
from typing import Optional, Sequence

import torch
from torch import Tensor

from mmmtl.registry import BALANCERS
from ..base import LossWeighting


@BALANCERS.register_module()
class StaticWeighting(LossWeighting):
    r"""Fixed weights: :math:`L = \sum_t w_t L_t`.

    Args:
        weights (Sequence[float], optional): One weight per task, in the
            order of the model's ``tasks``. ``None``: all 1 (equal weighting).
        num_tasks (int, optional): Number of tasks.
    """

    supports_task_subsets = False

    def __init__(self, weights: Optional[Sequence[float]] = None,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        if weights is not None:
            if num_tasks is not None and len(weights) != num_tasks:
                raise ValueError(
                    f'{type(self).__name__}: `weights` has {len(weights)} '
                    f'entries for {num_tasks} tasks')
            weights = torch.as_tensor(weights, dtype=torch.float32)
        self.register_buffer('weights', weights, persistent=False)

    def weigh(self, losses: Tensor) -> Tensor:
        self._check_losses(losses)
        if self.weights is None:
            return torch.ones_like(losses)
        if self.weights.numel() != losses.numel():
            raise ValueError(
                f'{type(self).__name__}: {self.weights.numel()} weights for '
                f'{losses.numel()} task losses')
        return self.weights.to(losses)


@BALANCERS.register_module()
class EqualWeighting(StaticWeighting):
    r"""Equal weighting: :math:`L = \sum_t L_t` (the sum of all losses)."""

    supports_task_subsets = True

    def __init__(self, num_tasks: Optional[int] = None) -> None:
        super().__init__(weights=None, num_tasks=num_tasks)
