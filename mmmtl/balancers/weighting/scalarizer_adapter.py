"""Loss weightings computed by a torchjd ``Scalarizer``.

A scalarizer ``S`` (torchjd 0.18's ``torchjd.scalarization``) combines the
task losses into one objective ``S(L_1, ..., L_T)``, possibly with learned
parameters ``phi``. Its gradient is

.. math::
    \\nabla_\\theta S = \\sum_t \\frac{\\partial S}{\\partial L_t}
    \\nabla_\\theta L_t ,

so the loss weights are ``w_t = dS/dL_t`` at the step's losses (detached):
one backward of ``sum_t w_t L_t`` gives exactly the gradient of ``S`` for
the model. The gradient for ``phi`` comes from :meth:`regularizer`, which
returns ``S`` at the detached losses less the constant ``sum_t w_t L_t``
(so that the combined loss's value is ``S`` itself). ``phi`` are the
scalarizer's ``nn.Parameter`` s: the balancer keeps the scalarizer as a
submodule, so MultiTaskOptimWrapperConstructor trains them with the
model's optimizer and checkpoints hold them.
"""
from typing import List, Optional, Sequence

import torch
from torch import Tensor

from ..base import LossWeighting


class ScalarizerWeighting(LossWeighting):
    """A :class:`LossWeighting` whose weights are the gradient of a torchjd
    scalarizer at the losses. Subclasses implement :meth:`scalarize` (the
    scalarizer's value on the present tasks' losses)."""

    def __init__(self, num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        self._objective: Optional[Tensor] = None

    def scalarize(self, losses: Tensor, tasks: Optional[List[int]]
                  ) -> Tensor:
        """The scalarizer's value on ``losses`` (differentiable in them and
        in the scalarizer's parameters); ``tasks`` as in :meth:`weigh`."""
        raise NotImplementedError

    def weigh(self, losses: Tensor,
              tasks: Optional[List[int]] = None) -> Tensor:
        leaf = losses.detach().double().to(self._device())
        leaf.requires_grad_()
        with torch.enable_grad():
            value = self.scalarize(leaf, tasks)
            learned = [p for p in self.parameters() if p.requires_grad]
            (weights, ) = torch.autograd.grad(value, leaf,
                                              retain_graph=bool(learned))
        weights = weights.detach()
        self._objective = None
        if learned:
            self._objective = value - (weights * leaf).sum().detach()
        return weights

    def _device(self) -> torch.device:
        """Where the scalarizer's parameters are (the CPU if none)."""
        for p in self.parameters():
            return p.device
        return torch.device('cpu')

    def regularizer(self, tasks: Optional[Sequence[int]] = None
                    ) -> Optional[Tensor]:
        objective, self._objective = self._objective, None
        return objective
