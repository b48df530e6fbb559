"""Geometric Loss Strategy (Chennupati et al., 2019)."""
from typing import List, Optional

import torch
from torch import Tensor

from mmmtl.registry import BALANCERS
from ..base import LossWeighting


@BALANCERS.register_module()
class GLS(LossWeighting):
    r"""Geometric Loss Strategy.

    Chennupati, Sistu, Yogamani & Rawashdeh, "MultiNet++: Multi-Stream
    Feature Aggregation and Geometric Loss Strategy for Multi-Task
    Learning", CVPR Workshops 2019 (arXiv:1904.08492).

    The objective is the geometric mean of the losses,
    :math:`L = (\prod_t L_t)^{1/T}`. Its gradient is

    .. math::
        \nabla L = \sum_t \frac{\partial L}{\partial L_t}\nabla L_t
                 = \sum_t w_t \nabla L_t, \qquad
        w_t = \frac{(\prod_i L_i)^{1/T}}{T\, L_t},

    so :meth:`weigh` returns these weights, detached: one backward of
    :math:`\sum_t w_t L_t` gives exactly the gradient of the geometric mean.
    (The logged combined loss :math:`\sum_t w_t L_t` equals :math:`L`.)
    Losses must be non-negative; a zero loss is raised to ``eps`` (the
    geometric mean's gradient is undefined there).

    Args:
        eps (float): Floor of the losses. Default 1e-8.
        num_tasks (int, optional): Number of tasks.
    """

    positive_losses = True

    def __init__(self, eps: float = 1e-8,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        self.eps = eps

    def weigh(self, losses: Tensor,
              tasks: Optional[List[int]] = None) -> Tensor:
        safe = losses.double().clamp(min=self.eps)
        geo_mean = torch.exp(safe.log().mean())
        return geo_mean / (safe.numel() * safe)
