"""FAMO: Fast Adaptive Multitask Optimization (Liu et al., 2023)."""
from typing import Optional

import torch
from torch import Tensor

from mmmtl.registry import BALANCERS
from ..base import LossWeighting


@BALANCERS.register_module()
class FAMO(LossWeighting):
    r"""Fast Adaptive Multitask Optimization.

    Liu, Liang, Gong, Stone & Liu, "FAMO: Fast Adaptive Multitask
    Optimization", NeurIPS 2023 (arXiv:2306.03792).

    Task logits :math:`\xi` give :math:`z = \mathrm{softmax}(\xi)`. The
    objective is :math:`\sum_t z_t \log(L_t - L_t^*) / c` with
    :math:`c = \sum_t z_t / (L_t - L_t^*)` (held constant), whose gradient is
    :math:`\sum_t w_t \nabla L_t` with

    .. math:: w_t = \frac{z_t}{c\,(L_t - L_t^* + \epsilon)} ,

    the weights returned. After each step the logits move so that tasks
    whose log-loss decreased least get more weight: with
    :math:`\delta_t = \log(L_t^{prev} - L_t^*) - \log(L_t - L_t^*)`, the
    logit gradient is :math:`J_{\mathrm{softmax}}(\xi)^\top \delta`, applied
    by Adam with learning rate ``w_lr`` and weight decay ``gamma``, as in
    the authors' code. The paper measures :math:`\delta` on the same batch
    after the update (an extra forward); like its efficient variant we use
    the losses of the next step instead.

    Args:
        gamma (float): Weight decay of the logits. Default 1e-3.
        w_lr (float): Learning rate of the logits. Default 0.025.
        min_losses (float): :math:`L^*`, a lower bound of the losses.
    """

    supports_task_subsets = False

    def __init__(self, gamma: float = 1e-3, w_lr: float = 0.025,
                 min_losses: float = 0.0, eps: float = 1e-8,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        if num_tasks is None:
            raise ValueError('FAMO needs `num_tasks` (the optim wrapper '
                             'constructor passes it)')
        self.gamma, self.w_lr = gamma, w_lr
        self.min_losses, self.eps = min_losses, eps
        self.register_buffer('logits', torch.zeros(num_tasks))
        self.register_buffer('prev_losses', torch.zeros(num_tasks))
        self.register_buffer('has_prev', torch.zeros((), dtype=torch.bool))
        # Adam state of the logits
        self.register_buffer('adam_m', torch.zeros(num_tasks))
        self.register_buffer('adam_v', torch.zeros(num_tasks))
        self.register_buffer('adam_t', torch.zeros((), dtype=torch.long))

    def _shifted(self, losses: Tensor) -> Tensor:
        return losses - self.min_losses + self.eps

    def _update_logits(self, losses: Tensor) -> None:
        delta = self._shifted(self.prev_losses).log() - \
            self._shifted(losses).log()
        z = torch.softmax(self.logits, 0)
        # J_softmax^T delta = z * (delta - <z, delta>)
        grad = z * (delta - (z * delta).sum()) + self.gamma * self.logits
        self.adam_t += 1
        b1, b2 = 0.9, 0.999
        self.adam_m.mul_(b1).add_(grad, alpha=1 - b1)
        self.adam_v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        m_hat = self.adam_m / (1 - b1**int(self.adam_t))
        v_hat = self.adam_v / (1 - b2**int(self.adam_t))
        self.logits -= self.w_lr * m_hat / (v_hat.sqrt() + 1e-8)

    def weigh(self, losses: Tensor) -> Tensor:
        self._check_losses(losses)
        losses = losses.detach().to(self.logits)
        if self.has_prev:
            self._update_logits(losses)
        self.prev_losses.copy_(losses)
        self.has_prev.fill_(True)
        z = torch.softmax(self.logits, 0)
        d = self._shifted(losses)
        c = (z / d).sum()
        return z / (c * d)
