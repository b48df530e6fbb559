"""Uncertainty weighting (Kendall, Gal & Cipolla, 2018)."""
from typing import Optional

import torch
from torch import Tensor, nn

from mmmtl.registry import BALANCERS
from ..base import LossWeighting


@BALANCERS.register_module()
class UncertaintyWeighting(LossWeighting):
    r"""Homoscedastic-uncertainty weighting.

    Kendall, Gal & Cipolla, "Multi-Task Learning Using Uncertainty to Weigh
    Losses for Scene Geometry and Semantics", CVPR 2018 (arXiv:1705.07115).

    Each task has a learned log-variance :math:`s_t = \log\sigma_t^2`
    (initialised to 0, trained by the model's optimizer) and the objective is

    .. math:: L = \sum_t e^{-s_t} L_t + s_t .

    The paper writes :math:`\frac{1}{2\sigma^2} L + \log\sigma` for a
    regression task and :math:`\frac{1}{\sigma^2} L + \log\sigma` for a
    classification one; the form above (used by most implementations) drops
    the task-dependent factors of 1/2, which only rescale :math:`s_t`.
    Setting the gradient in :math:`s_t` to zero gives
    :math:`e^{-s_t} = 1/L_t`: tasks with larger loss get smaller weights.
    """

    supports_task_subsets = False

    def __init__(self, num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        if num_tasks is None:
            raise ValueError('UncertaintyWeighting needs `num_tasks` (the '
                             'optim wrapper constructor passes it)')
        self.log_vars = nn.Parameter(torch.zeros(num_tasks))

    def weigh(self, losses: Tensor) -> Tensor:
        self._check_losses(losses)
        return torch.exp(-self.log_vars).to(losses.device)

    def regularizer(self) -> Tensor:
        return self.log_vars.sum()
