"""FairGrad (Ban & Ji, 2024)."""
from typing import Optional

from mmmtl.registry import BALANCERS
from .torchjd_adapter import TorchJDWeighting


@BALANCERS.register_module()
class FairGrad(TorchJDWeighting):
    r"""Fair resource allocation in multi-task learning.

    Ban & Ji, "Fair Resource Allocation in Multi-Task Learning", ICML 2024
    (arXiv:2402.15638), Algorithm 1.

    Chooses the update :math:`g = J^\top w` whose per-task improvements
    :math:`g_t^\top g = (G w)_t` maximise the :math:`\alpha`-fair utility
    :math:`\sum_t (g_t^\top g)^{1-\alpha}/(1-\alpha)` over a ball; the
    optimality condition is

    .. math:: G w = w^{-1/\alpha} \quad(\text{element-wise}),

    solved for :math:`w \ge 0` by non-linear least squares (scipy;
    torchjd's ``FairGradWeighting``). :math:`\alpha = 1` is proportional
    fairness (the Nash-MTL condition :math:`Gw = 1/w`), :math:`\alpha \to
    \infty` max-min fairness; ``alpha=0`` falls back to the mean.

    Args:
        alpha (float): Fairness parameter. Default 1.0.
        max_iters (int, optional): At most this many function evaluations
            of the solver (default: scipy's, ``100 * T``).
        num_tasks (int, optional): Number of tasks.

    Needs ``mmmtl[solvers]`` (scipy).
    """

    solvers = ('scipy', )

    def __init__(self, alpha: float = 1.0, max_iters: Optional[int] = None,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        if alpha < 0:
            raise ValueError(f'FairGrad: alpha must be >= 0, got {alpha}')

        def make():
            from torchjd.aggregation import FairGradWeighting
            return FairGradWeighting(alpha=alpha, max_iters=max_iters)

        self._build(make)
