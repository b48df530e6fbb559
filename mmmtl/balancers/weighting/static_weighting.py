"""Fixed task weights, and equal weighting."""
from typing import List, Optional, Sequence

import torch
from torch import Tensor

from mmmtl.registry import BALANCERS
from ..base import LossWeighting


@BALANCERS.register_module()
class StaticWeighting(LossWeighting):
    r"""Fixed weights: :math:`L = \sum_t w_t L_t`.

    Args:
        weights (Sequence[float], optional): One weight per task, in the
            order of the model's ``tasks``; on a step where some task has no
            labelled sample, the present tasks keep their own weights.
            ``None``: all 1, i.e. equal weighting (the plain sum of the task
            losses).
        num_tasks (int, optional): Number of tasks.
    """

    def __init__(self, weights: Optional[Sequence[float]] = None,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        if weights is not None:
            weights = torch.as_tensor(weights, dtype=torch.float32).flatten()
            if num_tasks is not None and weights.numel() != num_tasks:
                raise ValueError(
                    f'{type(self).__name__}: `weights` has {weights.numel()}'
                    f' entries for {num_tasks} tasks')
            if not torch.isfinite(weights).all():
                raise ValueError(f'{type(self).__name__}: `weights` must be '
                                 f'finite, got {weights.tolist()}')
        # configuration, not state: not saved in checkpoints
        self.register_buffer('weights', weights, persistent=False)

    def weigh(self, losses: Tensor,
              tasks: Optional[List[int]] = None) -> Tensor:
        """The weights of the tasks present (by position)."""
        if self.weights is None:
            return torch.ones_like(losses)
        if tasks is not None:
            return self.weights[tasks]
        if self.weights.numel() != losses.numel():
            raise ValueError(
                f'{type(self).__name__}: {self.weights.numel()} weights for '
                f'{losses.numel()} task losses')
        return self.weights


@BALANCERS.register_module()
class EqualWeighting(StaticWeighting):
    r"""Equal weighting: :math:`L = \sum_t L_t`, the sum of the task losses
    (:class:`StaticWeighting` with all weights 1).

    Args:
        num_tasks (int, optional): Number of tasks.
    """

    def __init__(self, num_tasks: Optional[int] = None) -> None:
        super().__init__(weights=None, num_tasks=num_tasks)
