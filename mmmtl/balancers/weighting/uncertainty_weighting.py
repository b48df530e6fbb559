"""Uncertainty weighting (Kendall, Gal & Cipolla, 2018)."""
from typing import List, Optional, Sequence

import torch
from torch import Tensor, nn

from mmmtl.registry import BALANCERS
from ..base import LossWeighting
from ..checks import require_num_tasks


@BALANCERS.register_module()
class UncertaintyWeighting(LossWeighting):
    r"""Homoscedastic-uncertainty weighting.

    Kendall, Gal & Cipolla, "Multi-Task Learning Using Uncertainty to Weigh
    Losses for Scene Geometry and Semantics", CVPR 2018 (arXiv:1705.07115).

    Each task has a learned log-variance :math:`s_t = \log\sigma_t^2`
    (``log_vars``, an ``nn.Parameter`` initialised to 0 and trained by the
    model's optimizer: MultiTaskOptimWrapperConstructor adds it, without
    weight decay). The objective is

    .. math:: L = \sum_t e^{-s_t} L_t + \sum_t s_t ,

    i.e. :meth:`weigh` returns :math:`w_t = e^{-s_t}` (carrying gradient to
    :math:`s`) and :meth:`regularizer` returns :math:`\sum_t s_t`. This is
    the form LibMTL and most implementations use. The paper derives
    :math:`\frac{1}{2\sigma_t^2} L_t + \log\sigma_t` for a regression
    (Gaussian) task and :math:`\frac{1}{\sigma_t^2} L_t + \log\sigma_t` for a
    classification (softmax) task; the form above drops those factors 1/2,
    which only reparametrise :math:`s_t`. At the optimum in :math:`s_t`,
    :math:`\partial L/\partial s_t = 1 - e^{-s_t}L_t = 0`, so
    :math:`w_t = 1/L_t`.

    On a step where some task has no labelled sample, the objective holds
    only the present tasks' terms: an absent task's :math:`s_t` gets a zero
    gradient (its regularizer alone would drive it down).

    Args:
        num_tasks (int): Number of tasks (required).
    """

    def __init__(self, num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        n = require_num_tasks(self, num_tasks)
        self.log_vars = nn.Parameter(torch.zeros(n))

    def weigh(self, losses: Tensor,
              tasks: Optional[List[int]] = None) -> Tensor:
        log_vars = self.log_vars if tasks is None else self.log_vars[tasks]
        return torch.exp(-log_vars)

    def regularizer(self, tasks: Optional[Sequence[int]] = None) -> Tensor:
        if tasks is None:
            return self.log_vars.sum()
        return self.log_vars[list(tasks)].sum()
