"""Geometric Loss Strategy (Chennupati et al., 2019)."""
from typing import Optional

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

    The objective is the geometric mean :math:`L = (\prod_t L_t)^{1/T}`.
    Its gradient is :math:`\sum_t w_t \nabla L_t` with

    .. math:: w_t = \frac{(\prod_i L_i)^{1/T}}{T\, L_t},

    so these (detached) weights on the losses give exactly the gradient of
    the geometric mean. Losses must be positive.
    """

    def __init__(self, eps: float = 1e-12,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        self.eps = eps

    def weigh(self, losses: Tensor) -> Tensor:
        self._check_losses(losses)
        if (losses <= 0).any():
            raise ValueError(f'GLS needs positive task losses, got '
                             f'{losses.tolist()}')
        losses = losses.detach().double().clamp(min=self.eps)
        geo_mean = torch.exp(losses.log().mean())
        return (geo_mean / (losses.numel() * losses)).float()
