"""FairGrad (Ban & Ji, 2024)."""
from typing import Optional

from torch import Tensor
from torchjd.aggregation import FairGradWeighting

from mmmtl.registry import BALANCERS
from ._bargaining import bargaining_residual, solve_bargaining
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
    torchjd's ``FairGradWeighting``) on :math:`G/s` (:math:`s` the mean of
    :math:`G`'s diagonal), mapped back by :math:`w(G) = s^{-\alpha/(1+\alpha)}
    w(G/s)`. When the result misses the condition by more than ``tol`` it is
    replaced by a damped Newton solve, and the log says so.
    :math:`\alpha = 1` is proportional fairness (the Nash-MTL condition
    :math:`Gw = 1/w`), :math:`\alpha \to \infty` max-min fairness;
    ``alpha=0`` falls back to the mean.

    **Scale.** :math:`w^\top G w = \sum_t w_t^{1-1/\alpha}`: for
    :math:`\alpha = 1` the paper's update has norm :math:`\sqrt T` whatever
    the gradients' scale, as Nash-MTL's. ``update_scale='sum'`` (the
    default) rescales the weights to sum to :math:`T`, as equal
    weighting's; ``'paper'`` keeps the paper's.

    Args:
        alpha (float): Fairness parameter. Default 1.0.
        max_iters (int, optional): At most this many function evaluations
            of the solver (default: scipy's, ``100 * T``).
        tol (float): Largest accepted :math:`\max_t |(Gw)_t w_t^{1/\alpha}
            - 1|` of the least-squares result. Default 1e-3.
        num_tasks (int, optional): Number of tasks.
        update_scale (str, optional): ``'sum'`` (default), ``'paper'`` or
            ``'norm'``: see :class:`TorchJDWeighting`.
        recompute_every (int): Compute the weights every this many
            steps, reuse them in between (see :class:`GramianWeighting`).
            Default 1.

    Needs ``mmmtl[solvers]`` (scipy).
    """

    solvers = ('scipy', )
    default_update_scale = 'sum'

    def __init__(self, alpha: float = 1.0, max_iters: Optional[int] = None,
                 tol: float = 1e-3, num_tasks: Optional[int] = None,
                 update_scale: Optional[str] = None,
                 recompute_every: int = 1) -> None:
        super().__init__(num_tasks=num_tasks, update_scale=update_scale,
                         recompute_every=recompute_every)
        if alpha < 0 or tol <= 0:
            raise ValueError(f'FairGrad: need alpha >= 0 and tol > 0, got '
                             f'alpha={alpha}, tol={tol}')
        self.alpha, self.tol = alpha, tol
        self.weight_degree = -alpha / (1 + alpha)
        self._build(lambda: FairGradWeighting(alpha=alpha,
                                              max_iters=max_iters))

    def _solve(self, gramian: Tensor) -> Tensor:
        weights = self.weighting(gramian)
        if self.alpha == 0:
            return weights
        residual = bargaining_residual(gramian, weights, self.alpha)
        if residual > self.tol:
            weights = solve_bargaining(gramian, self.alpha, start=weights)
            self._warn_fallback(
                f'the least-squares solve missed G w = w^(-1/alpha) by '
                f'{residual:.3g}; used a Newton solve of it instead '
                f'(residual '
                f'{bargaining_residual(gramian, weights, self.alpha):.1e})')
        return weights
