"""DB-MTL (Lin et al., 2023)."""
from typing import Optional

import torch
from torch import Tensor

from mmmtl.registry import BALANCERS
from ..base import JacobianAggregator


@BALANCERS.register_module()
class DBMTL(JacobianAggregator):
    r"""Dual-Balancing Multi-Task Learning.

    Lin, Ye, Xu, Shi & Kwok, "Dual-Balancing for Multi-Task Learning",
    2023 (arXiv:2308.12029).

    Loss-scale balancing: use the gradients of :math:`\log L_t`, i.e.
    :math:`g_t / L_t`. Gradient-magnitude balancing: keep an EMA
    :math:`\hat g_t \leftarrow \beta_k \hat g_t + (1 - \beta_k)\, g_t/L_t`
    with :math:`\beta_k = \beta / k^{\sigma}` (:math:`k` the step;
    :math:`\hat g_t = g_t/L_t` at the first), then rescale every task to
    the largest norm:

    .. math:: g = \sum_t \frac{\max_i \|\hat g_i\|}{\|\hat g_t\|}\hat g_t .

    The EMA lives in the coordinates of the Jacobian, so use it with
    ``jacobian_mode='parameter'`` (feature gradients belong to a different
    batch every step).
    """

    supports_task_subsets = False

    def __init__(self, beta: float = 0.9, beta_sigma: float = 0.5,
                 eps: float = 1e-8, num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        self.beta, self.beta_sigma, self.eps = beta, beta_sigma, eps
        self.register_buffer('step', torch.zeros((), dtype=torch.long))
        self.ema: Optional[Tensor] = None

    def aggregate(self, losses: Tensor, jacobian: Tensor) -> Tensor:
        self._check_losses(losses)
        log_grads = jacobian / (losses.detach().to(jacobian).unsqueeze(1)
                                + self.eps)
        self.step += 1
        if self.ema is None or self.ema.shape != log_grads.shape:
            self.ema = log_grads.clone()
        else:
            beta_k = self.beta / float(self.step)**self.beta_sigma
            self.ema = beta_k * self.ema.to(log_grads) + (1 - beta_k) * \
                log_grads
        norms = self.ema.norm(dim=1)
        scale = norms.max() / (norms + self.eps)
        return scale @ self.ema

    def get_extra_state(self):
        return {'ema': self.ema}

    def set_extra_state(self, state) -> None:
        self.ema = (state or {}).get('ema')
