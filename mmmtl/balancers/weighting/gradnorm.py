"""GradNorm (Chen et al., 2018)."""
from typing import Optional

import torch
from torch import Tensor

from mmmtl.registry import BALANCERS
from ..base import GramianWeighting


@BALANCERS.register_module()
class GradNorm(GramianWeighting):
    r"""Gradient normalisation.

    Chen, Badrinarayanan, Lee & Rabinovich, "GradNorm: Gradient
    Normalization for Adaptive Loss Balancing in Deep Multitask Networks",
    ICML 2018 (arXiv:1711.02257).

    Learned weights :math:`w_t` (scaling the whole task loss, heads
    included) are moved so that every task's weighted gradient norm
    :math:`G_t = w_t \|g_t\|` approaches
    :math:`\bar G \cdot r_t^\alpha`, where :math:`\bar G` is the mean of
    the :math:`G_t`, :math:`r_t = \tilde L_t / \mathrm{mean}(\tilde L)` and
    :math:`\tilde L_t = L_t / L_t(0)` (the loss relative to its first
    value). One gradient step of size ``lr`` on

    .. math:: L_{grad} = \sum_t |G_t - \bar G r_t^\alpha|

    (targets held constant, so :math:`\partial L_{grad}/\partial w_t =
    \mathrm{sign}(G_t - \bar G r_t^\alpha) \|g_t\|`), then renormalisation
    to :math:`\sum_t w_t = T`. The step's loss uses the weights from
    *before* this update, as in the paper. :math:`\|g_t\| =
    \sqrt{G_{tt}}` is read from the Gramian of the unweighted task
    gradients: the paper takes it w.r.t. the last shared layer; in feature
    mode it is w.r.t. the shared features, in parameter mode w.r.t. all
    shared parameters.

    Args:
        alpha (float): Restoring-force strength. Default 1.5.
        lr (float): Step size of the weights. Default 0.025.
    """

    supports_task_subsets = False

    weights_heads = True

    def __init__(self, alpha: float = 1.5, lr: float = 0.025,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        if num_tasks is None:
            raise ValueError('GradNorm needs `num_tasks` (the optim wrapper '
                             'constructor passes it)')
        self.alpha, self.lr = alpha, lr
        self.register_buffer('task_weights', torch.ones(num_tasks))
        self.register_buffer('initial_losses', torch.zeros(num_tasks))
        self.register_buffer('has_initial', torch.zeros((), dtype=torch.bool))

    def weigh(self, losses: Tensor, gramian: Tensor) -> Tensor:
        self._check_losses(losses)
        losses = losses.detach().to(self.task_weights)
        if not self.has_initial:
            self.initial_losses.copy_(losses.clamp(min=1e-12))
            self.has_initial.fill_(True)
        used = self.task_weights.clone()
        norms = gramian.diagonal().to(used).clamp(min=0).sqrt()
        weighted = used * norms
        rel = losses / self.initial_losses
        target = weighted.mean() * (rel / rel.mean())**self.alpha
        grad = torch.sign(weighted - target) * norms
        new = (used - self.lr * grad).clamp(min=1e-4)
        self.task_weights.copy_(new * len(new) / new.sum())
        return used
