"""GradDrop (Chen et al., 2020)."""
from typing import Optional

import torch
from torch import Tensor
from torchjd.aggregation import GradDrop as TorchJDGradDrop

from mmmtl.registry import BALANCERS
from ..base import JacobianAggregator


@BALANCERS.register_module()
class GradDrop(JacobianAggregator):
    r"""Gradient Sign Dropout.

    Chen, Ngiam, Huang, Luong, Kretzschmar, Chai & Anguelov, "Just Pick a
    Sign: Optimizing Deep Multitask Models with Gradient Sign Dropout",
    NeurIPS 2020 (arXiv:2010.06808).

    Per coordinate, the sign purity :math:`P = \frac12(1 + \frac{\sum_t
    g_t}{\sum_t |g_t|})`; draw :math:`U \sim U(0,1)` and keep the positive
    components where :math:`P > U`, the negative ones elsewhere; the
    update is the sum of the kept components (``leak`` lets a fraction of
    each task's gradient through unmasked). The paper applies it at the
    shared activations, which is the optim wrapper's feature mode.
    (torchjd's ``GradDrop``; uses torch's global RNG.)
    """

    def __init__(self, leak: Optional[float] = None,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        self.leak = leak
        self.aggregator = TorchJDGradDrop() if leak is None else None

    def aggregate(self, losses: Tensor, jacobian: Tensor) -> Tensor:
        self._check_losses(losses)
        agg = self.aggregator
        if agg is None:
            agg = TorchJDGradDrop(leak=torch.full(
                (jacobian.shape[0], ), float(self.leak),
                dtype=jacobian.dtype, device=jacobian.device))
        return agg(jacobian)
