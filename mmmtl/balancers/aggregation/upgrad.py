"""UPGrad (Quinton & Rey, 2024)."""
from typing import Optional

from torchjd.aggregation import UPGradWeighting

from mmmtl.registry import BALANCERS
from .torchjd_adapter import TorchJDWeighting


@BALANCERS.register_module()
class UPGrad(TorchJDWeighting):
    r"""Unconflicting Projection of Gradients.

    Quinton & Rey, "Jacobian Descent for Multi-Objective Optimization",
    2024 (arXiv:2406.16232).

    Projects each task gradient onto the dual cone of the task gradients
    (the vectors with non-negative inner product with every :math:`g_t`)
    and averages the projections:

    .. math:: g = \frac{1}{T}\sum_t \pi_{J}(g_t),\qquad
        \pi_J(x) = \arg\min_{y:\ Jy \ge 0} \|y - x\|^2 .

    The update never conflicts with any task (:math:`Jg \ge 0`). The
    projections are quadratic programs on the Gramian (torchjd's
    ``UPGradWeighting``).
    """

    def __init__(self, num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        self._build(UPGradWeighting)
