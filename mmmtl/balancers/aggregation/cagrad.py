"""Conflict-Averse Gradient descent (Liu et al., 2021)."""
from typing import Optional

from mmmtl.registry import BALANCERS
from .torchjd_adapter import TorchJDWeighting


@BALANCERS.register_module()
class CAGrad(TorchJDWeighting):
    r"""Conflict-Averse Gradient descent.

    Liu, Liu, Jin, Stone & Liu, "Conflict-Averse Gradient Descent for
    Multi-task Learning", NeurIPS 2021 (arXiv:2110.14048).

    The update maximises the worst task improvement within a ball around
    the average gradient :math:`g_0`:

    .. math:: \max_d \min_i\, g_i^\top d \quad \text{s.t.}\quad
        \|d - g_0\| \le c\,\|g_0\| ,

    solved in its dual over task weights (cvxpy; torchjd's
    ``CAGradWeighting``). :math:`c = 0` gives the mean gradient. Needs
    ``mmmtl[solvers]``.
    """

    def __init__(self, c: float = 0.4, norm_eps: float = 1e-4,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)

        def make():
            from torchjd.aggregation import CAGradWeighting
            return CAGradWeighting(c=c, norm_eps=norm_eps)

        self._build(make)
