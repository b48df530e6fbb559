"""GradNorm (Chen et al., 2018)."""
from typing import Optional

import torch
from torch import Tensor

from mmmtl.registry import BALANCERS
from ..base import GramianWeighting
from ..checks import require_num_tasks


@BALANCERS.register_module()
class GradNorm(GramianWeighting):
    r"""Gradient normalisation.

    Chen, Badrinarayanan, Lee & Rabinovich, "GradNorm: Gradient
    Normalization for Adaptive Loss Balancing in Deep Multitask Networks",
    ICML 2018 (arXiv:1711.02257), Algorithm 1.

    Learned task weights :math:`w_t` (buffer ``task_weights``, initially 1)
    scale the whole task loss, heads included (``weights_heads = True``).
    With :math:`\|g_t\| = \sqrt{G_{tt}}` read from the Gramian of the
    *unweighted* task gradients, the weighted gradient norms are
    :math:`N_t = w_t\|g_t\|`, their mean :math:`\bar N`, the inverse
    training rates :math:`r_t = \tilde L_t / \mathrm{mean}_k \tilde L_k`
    with :math:`\tilde L_t = L_t / L_t(0)` (:math:`L_t(0)`, buffer
    ``initial_losses``, is recorded on the first call), and

    .. math::
        L_{grad} = \sum_t \big| N_t - \bar N\, r_t^{\alpha} \big| ,

    the targets :math:`\bar N r_t^\alpha` held constant. One gradient step
    of size ``lr`` is taken on the weights, with the analytic gradient
    :math:`\partial L_{grad}/\partial w_t = \mathrm{sign}(N_t - \bar N
    r_t^\alpha)\,\|g_t\|`; the weights are floored at ``min_weight`` (to
    stay positive) and renormalised to :math:`\sum_t w_t = T`.

    **Scale.** That gradient is proportional to the gradient norms, so a
    plain step moves a weight by ``lr`` times :math:`\|g_t\|`. On the demo
    those norms are about 1e-3 to 2e-2 in feature mode and 0.1 to 30
    (median 0.65) in parameter mode: the same ``lr`` is a crawl in one mode
    and a jump in the other (reimplementations such as LibMTL train the
    weights with the network's optimizer, typically Adam, whose step does
    not follow the gradient's scale).
    ``step_scale='relative'`` (the default) divides the gradient by the
    mean :math:`\|g_k\|`, so a step moves a weight by about ``lr``
    whatever the mode; ``'paper'`` takes the plain step.

    :meth:`weigh` returns the weights from *before* this update, as in the
    paper: the step's loss :math:`\sum_t w_t L_t` uses the current weights,
    and the updated ones serve from the next step on. The paper takes
    :math:`\|g_t\|` w.r.t. the last shared layer; here it is w.r.t. what the
    optim wrapper differentiates: the shared features in feature mode, all
    shared parameters in parameter mode.

    Args:
        alpha (float): :math:`\alpha`, strength of the restoring force.
            Default 1.5.
        lr (float): Step size of the weights. Default 0.025.
        min_weight (float): Floor of a weight before renormalisation.
            Default 1e-4.
        step_scale (str): ``'relative'`` (default) or ``'paper'``, see
            above.
        num_tasks (int): Number of tasks (required).
        recompute_every (int): Update the weights every this many steps,
            reuse them in between (see :class:`GramianWeighting`).
            Default 1.
    """

    supports_task_subsets = False
    weights_heads = True
    positive_losses = True

    def __init__(self, alpha: float = 1.5, lr: float = 0.025,
                 min_weight: float = 1e-4, step_scale: str = 'relative',
                 num_tasks: Optional[int] = None,
                 recompute_every: int = 1) -> None:
        super().__init__(num_tasks=num_tasks,
                         recompute_every=recompute_every)
        n = require_num_tasks(self, num_tasks)
        if lr < 0 or min_weight <= 0:
            raise ValueError(f'GradNorm: need lr >= 0 and min_weight > 0, '
                             f'got lr={lr}, min_weight={min_weight}')
        if step_scale not in ('relative', 'paper'):
            raise ValueError(f"GradNorm: step_scale must be 'relative' or "
                             f"'paper', got {step_scale!r}")
        self.alpha, self.lr, self.min_weight = alpha, lr, min_weight
        self.step_scale = step_scale
        self.register_buffer('task_weights',
                             torch.ones(n, dtype=torch.float64))
        self.register_buffer('initial_losses',
                             torch.zeros(n, dtype=torch.float64))
        self.register_buffer('has_initial', torch.zeros((),
                                                        dtype=torch.bool))

    def weigh(self, losses: Tensor, gramian: Tensor) -> Tensor:
        t = losses.numel()
        tiny = torch.finfo(torch.float64).tiny
        cur = losses.to(self.task_weights)
        if not bool(self.has_initial):
            self.initial_losses.copy_(cur.clamp(min=tiny))
            self.has_initial.fill_(True)
        used = self.task_weights.clone()
        norms = gramian.diagonal().to(used).clamp(min=0).sqrt()
        weighted = used * norms                       # N_t
        rel = cur / self.initial_losses               # L_t / L_t(0)
        r = rel / rel.mean().clamp(min=tiny)          # inverse rates
        target = weighted.mean() * r.pow(self.alpha)  # held constant
        grad = torch.sign(weighted - target) * norms  # dL_grad / dw
        if self.step_scale == 'relative' and norms.mean() > 0:
            grad = grad / norms.mean()
        new = (used - self.lr * grad).clamp(min=self.min_weight)
        self.task_weights.copy_(new * t / new.sum())
        return used
