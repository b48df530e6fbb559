"""Geometric Loss Strategy (Chennupati et al., 2019)."""
from typing import List, Optional

from torch import Tensor
from torchjd.scalarization import GeometricMean

from mmmtl.registry import BALANCERS
from .scalarizer_adapter import ScalarizerWeighting


@BALANCERS.register_module()
class GLS(ScalarizerWeighting):
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

    the (detached) weights :meth:`weigh` returns: one backward of
    :math:`\sum_t w_t L_t` gives exactly the gradient of the geometric mean
    (the logged combined loss :math:`\sum_t w_t L_t` equals :math:`L`).
    torchjd's ``torchjd.scalarization.GeometricMean`` computes :math:`L`,
    the weights are its gradient (see :class:`ScalarizerWeighting`). Losses
    must be non-negative; a loss below ``eps`` counts as ``eps`` (the
    geometric mean's gradient is undefined at 0). The rule treats whatever
    tasks it is given alike, so partial-label steps use the present tasks'
    geometric mean.

    Args:
        eps (float): Floor of the losses. Default 1e-8.
        num_tasks (int, optional): Number of tasks.
    """

    positive_losses = True

    def __init__(self, eps: float = 1e-8,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        self.eps = eps

    def scalarize(self, losses: Tensor, tasks: Optional[List[int]]
                  ) -> Tensor:
        # the value at the floored losses, the gradient passed straight
        # through to the losses
        floored = losses.detach().clamp(min=self.eps)
        return GeometricMean()(floored + (losses - losses.detach()))
