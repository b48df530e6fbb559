"""FAMO: Fast Adaptive Multitask Optimization (Liu et al., 2023)."""
from typing import List, Optional, Sequence, Union

import torch
from torch import Tensor

from mmmtl.registry import BALANCERS
from ..base import LossWeighting
from ..checks import require_num_tasks


@BALANCERS.register_module()
class FAMO(LossWeighting):
    r"""Fast Adaptive Multitask Optimization.

    Liu, Feng, Stone & Liu, "FAMO: Fast Adaptive Multitask
    Optimization", NeurIPS 2023 (arXiv:2306.03792), Algorithms 1 and 2.

    Task logits :math:`\xi` (buffer ``logits``, initially 0) give
    :math:`z = \mathrm{softmax}(\xi)`. With :math:`D_t = L_t - L_t^* +
    \epsilon` (:math:`L^*` = ``min_losses``), the model minimises

    .. math::
        \frac{1}{c}\sum_t z_t \log D_t, \qquad
        c = \sum_t \frac{z_t}{D_t}\ (\text{held constant}),

    whose gradient is :math:`\sum_t w_t \nabla L_t` with

    .. math:: w_t = \frac{z_t}{c\, D_t}\qquad(\textstyle\sum_t w_t = 1),

    the (detached) weights :meth:`weigh` returns. The logits learn to make
    all log-losses fall at the same rate: with the change in log-loss
    :math:`\delta_t = \log D_t^{prev} - \log D_t`, the gradient of
    :math:`\xi` is :math:`J_{\mathrm{softmax}}(\xi)^\top\delta
    = z \odot (\delta - z^\top\delta)` plus the weight decay
    :math:`\gamma\xi`, applied by an Adam step of learning rate ``w_lr``
    (torch's ``Adam(lr=w_lr, weight_decay=gamma)``, betas (0.9, 0.999),
    eps 1e-8, as the authors' code; its moments and step are buffers).
    Descending it raises the logits of the tasks whose loss fell least.

    The paper and the authors' code measure :math:`\delta` with a second
    forward pass on the same batch after the parameter update. To avoid that
    extra forward, this implementation uses the losses of the next step (the
    next batch) instead: each call first updates the logits from the
    previous call's losses and the current ones, then returns the weights
    from the updated logits. :math:`\delta` then also carries batch-to-batch
    noise, which Adam's averaging smooths.

    Args:
        gamma (float): Weight decay of the logits. Default 1e-3 (the
            paper's Algorithm 2; the authors' code defaults to 1e-5).
        w_lr (float): Learning rate of the logits. Default 0.025.
        min_losses (float | Sequence[float]): :math:`L^*`, lower bounds of
            the losses (one, or one per task). Default 0.
        eps (float): :math:`\epsilon`. Default 1e-8.
        num_tasks (int): Number of tasks (required).
    """

    supports_task_subsets = False
    positive_losses = True
    betas = (0.9, 0.999)
    adam_eps = 1e-8

    def __init__(self, gamma: float = 1e-3, w_lr: float = 0.025,
                 min_losses: Union[float, Sequence[float]] = 0.0,
                 eps: float = 1e-8,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        n = require_num_tasks(self, num_tasks)
        if gamma < 0 or w_lr < 0:
            raise ValueError(f'FAMO: need gamma >= 0 and w_lr >= 0, got '
                             f'gamma={gamma}, w_lr={w_lr}')
        self.gamma, self.w_lr, self.eps = gamma, w_lr, eps
        mins = torch.as_tensor(min_losses, dtype=torch.float64).flatten()
        if mins.numel() not in (1, n):
            raise ValueError(f'FAMO: `min_losses` has {mins.numel()} entries '
                             f'for {n} tasks')
        # configuration, not state
        self.register_buffer('min_losses', mins.expand(n).clone(),
                             persistent=False)
        self.register_buffer('logits', torch.zeros(n, dtype=torch.float64))
        self.register_buffer('prev_losses',
                             torch.zeros(n, dtype=torch.float64))
        self.register_buffer('has_prev', torch.zeros((), dtype=torch.bool))
        self.register_buffer('adam_step', torch.zeros((), dtype=torch.long))
        self.register_buffer('exp_avg', torch.zeros(n, dtype=torch.float64))
        self.register_buffer('exp_avg_sq',
                             torch.zeros(n, dtype=torch.float64))

    def loss_floor(self) -> Tensor:
        return self.min_losses

    def _shifted(self, losses: Tensor) -> Tensor:
        return losses - self.min_losses + self.eps

    def _update_logits(self, losses: Tensor) -> None:
        delta = self._shifted(self.prev_losses).log() - \
            self._shifted(losses).log()
        z = torch.softmax(self.logits, 0)
        grad = z * (delta - (z * delta).sum())     # J_softmax^T delta
        grad = grad + self.gamma * self.logits     # Adam's L2 weight decay
        b1, b2 = self.betas
        self.adam_step += 1
        k = int(self.adam_step)
        self.exp_avg.mul_(b1).add_(grad, alpha=1 - b1)
        self.exp_avg_sq.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        denom = (self.exp_avg_sq / (1 - b2**k)).sqrt() + self.adam_eps
        self.logits -= self.w_lr / (1 - b1**k) * self.exp_avg / denom

    def weigh(self, losses: Tensor,
              tasks: Optional[List[int]] = None) -> Tensor:
        cur = losses.to(self.logits)
        if bool(self.has_prev):
            self._update_logits(cur)
        self.prev_losses.copy_(cur)
        self.has_prev.fill_(True)
        z = torch.softmax(self.logits, 0)
        d = self._shifted(cur)
        c = (z / d).sum()
        return z / (c * d)
