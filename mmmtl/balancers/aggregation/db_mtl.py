"""DB-MTL (Lin et al., 2023)."""
from typing import Optional, Tuple

import torch
from torch import Tensor

from mmmtl.registry import BALANCERS
from ..base import JacobianAggregator
from .gradient_average import GradientAverage


@BALANCERS.register_module()
class DBMTL(GradientAverage, JacobianAggregator):
    r"""Dual-Balancing Multi-Task Learning.

    Lin, Jiang, Ye, Zhang, Chen, Chen, Liu & Kwok, "Dual-Balancing for
    Multi-Task Learning", 2023 (arXiv:2308.12029), Algorithm 1.

    *Loss-scale balancing*: use the gradients of :math:`\log L_t`. The
    Jacobian handed over holds the gradients of the raw losses, so these are
    its rows divided by the losses:
    :math:`\nabla\log(L_t + \epsilon) = g_t / (L_t + \epsilon)`.

    *Gradient-magnitude balancing*: keep an exponential moving average of
    those gradients, from :math:`\hat g_t^{(0)} = 0`,

    .. math::
        \hat g_t^{(k)} = \beta_k\,\hat g_t^{(k-1)}
            + (1-\beta_k)\,\frac{g_t^{(k)}}{L_t^{(k)} + \epsilon},
        \qquad \beta_k = \beta / k^{\sigma},

    (:math:`k = 1, 2, \dots` the step, :math:`\sigma` = ``beta_sigma``), and
    rescale every task to the largest norm:

    .. math::
        g = \sum_t \frac{\max_i \|\hat g_i\|}{\|\hat g_t\| + \epsilon}\,
            \hat g_t .

    The logged task weights (``weight.<task>``) are the factors
    :math:`\max_i \|\hat g_i\| / (\|\hat g_t\| + \epsilon)`.

    As in the paper and the authors' code there is no Adam-style bias
    correction: the decaying :math:`\beta_k` makes the average follow the
    current gradients ever more closely, and the first update is
    :math:`(1-\beta)` times the unsmoothed one.

    The average lives in the coordinates of the Jacobian, which change from
    step to step in feature mode (other samples); the paper averages the
    gradients of the shared parameters, so this class forces the optim
    wrapper's parameter mode (``jacobian_mode = 'parameter'``). If the
    Jacobian's width changes anyway, the average restarts (with a warning).

    Args:
        beta (float): :math:`\beta`. Default 0.9.
        beta_sigma (float): :math:`\sigma`. Default 0.5.
        eps (float): :math:`\epsilon`. Default 1e-8.
        num_tasks (int, optional): Number of tasks.
    """

    supports_task_subsets = False
    positive_losses = True
    #: Read by MultiTaskOptimWrapper: average parameter gradients.
    jacobian_mode = 'parameter'

    def __init__(self, beta: float = 0.9, beta_sigma: float = 0.5,
                 eps: float = 1e-8, num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        if not 0 <= beta < 1 or beta_sigma < 0:
            raise ValueError(f'DBMTL: need 0 <= beta < 1 and beta_sigma >= '
                             f'0, got beta={beta}, beta_sigma={beta_sigma}')
        self.beta, self.beta_sigma, self.eps = beta, beta_sigma, eps
        self._init_average()

    def aggregate(self, losses: Tensor, jacobian: Tensor
                  ) -> Tuple[Tensor, Tensor]:
        self._average_for(jacobian)
        beta_k = self.beta / float(self.step)**self.beta_sigma
        # ema <- beta_k ema + (1 - beta_k) g_t / (L_t + eps), in place (no
        # T x P temporary for the log-loss gradients)
        coeff = (1 - beta_k) / (losses.to(jacobian) + self.eps)
        self.ema.mul_(beta_k).addcmul_(jacobian, coeff.unsqueeze(1))
        norms = self.ema.norm(dim=1)
        scale = norms.max() / (norms + self.eps)
        return scale, scale @ self.ema
