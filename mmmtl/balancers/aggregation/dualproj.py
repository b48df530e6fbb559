"""DualProj (Quinton & Rey, 2024)."""
from typing import Optional

from torchjd.aggregation import DualProjWeighting

from mmmtl.registry import BALANCERS
from .torchjd_adapter import TorchJDWeighting


@BALANCERS.register_module()
class DualProj(TorchJDWeighting):
    r"""Dual-cone projection of the mean gradient.

    Quinton & Rey, "Jacobian Descent for Multi-Objective Optimization",
    2024 (arXiv:2406.16232), after Lopez-Paz & Ranzato's GEM (2017).

    Projects the mean gradient onto the dual cone of the task gradients:
    :math:`g = \arg\min_{y:\ Jy \ge 0} \|y - \frac1T\sum_t g_t\|^2`, a
    quadratic program on the Gramian (torchjd's ``DualProjWeighting``).
    """

    def __init__(self, num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        self._build(DualProjWeighting)
