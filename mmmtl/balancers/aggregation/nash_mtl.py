"""Nash-MTL (Navon et al., 2022)."""
import warnings
from typing import Any, Dict, Optional

from torch import Tensor

from mmmtl.registry import BALANCERS
from ..base import gramian_factor
from ..checks import require_num_tasks
from ._bargaining import bargaining_residual, solve_bargaining
from .torchjd_adapter import (NASH_MTL_STATE, TorchJDWeighting,
                              nash_mtl_solves_now, nash_mtl_weighting,
                              rebuild_nash_mtl_problem, set_nash_mtl_start)


@BALANCERS.register_module()
class NashMTL(TorchJDWeighting):
    r"""Multi-task learning as a bargaining game.

    Navon, Shamsian, Achituve, Maron, Kawaguchi, Chechik & Fetaya,
    "Multi-Task Learning as a Bargaining Game", ICML 2022
    (arXiv:2202.01017), Algorithm 1.

    The update :math:`g = J^\top\alpha` is the Nash bargaining solution,
    characterised by

    .. math:: G\alpha = 1/\alpha \quad(\text{element-wise}),\qquad
        \alpha > 0 ,

    i.e. every task's improvement :math:`g_t^\top g` times its weight is the
    same (for orthogonal gradients :math:`\alpha_t = 1/\|g_t\|`). It is found
    by the paper's sequence of convex approximations (torchjd's
    ``NashMTL``, cvxpy/ECOS), started from the previous step's
    solution, on :math:`G/s` (:math:`s` the mean of :math:`G`'s diagonal) and
    mapped back by :math:`\alpha(G) = \alpha(G/s)/\sqrt s`. When that
    solution misses :math:`G\alpha = 1/\alpha` by more than ``tol`` (a
    weight at 0, a failed solve: what unnormalised feature-mode Gramians
    caused, and conflicting gradients from the all-ones start) it is
    replaced by a damped Newton solve of the same condition, and the log says
    so.

    **Scale.** :math:`\alpha^\top G\alpha = T`, so the paper's update has
    norm :math:`\sqrt T` whatever the gradients' scale (the authors' code
    then clips it to ``max_norm``). Feature gradients are orders of
    magnitude smaller than parameter gradients, so in feature mode the
    paper's weights run into the thousands. ``update_scale='sum'`` (the
    default) rescales them to sum to :math:`T`, as equal weighting's do:
    same direction, an update that scales with the gradients.
    ``update_scale='paper'`` gives the paper's weights, clipped to
    ``max_norm``.

    torchjd implements it only on a Jacobian; the solution depends on the
    gradients only through :math:`G`, so it runs on the :math:`T \times T`
    factor :math:`M` of :func:`gramian_factor` (:math:`M M^\top = G`). The
    previous solution and step count are state (saved in checkpoints).

    Args:
        max_norm (float): With ``update_scale='paper'``, clip
            :math:`\|J^\top\alpha\|` to this; 0 disables the clipping.
            Default 1.0 (the authors' code's). No effect on the direction.
        update_weights_every (int): Solve every this many steps, reusing
            the last weights in between. Default 1.
        optim_niter (int): Iterations of the convex approximations.
            Default 20.
        tol (float): Largest accepted :math:`\max_t|\alpha_t (G\alpha)_t
            - 1|` of the convex approximations' result. Default 1e-2.
        num_tasks (int): Number of tasks (required).
        update_scale (str, optional): ``'sum'`` (default), ``'paper'`` or
            ``'norm'``: see :class:`TorchJDWeighting`.
        recompute_every (int): Compute the weights every this many
            steps, reuse them in between (see :class:`GramianWeighting`).
            Default 1.

    Needs ``mmmtl[solvers]`` (cvxpy, ecos).
    """

    supports_task_subsets = False
    solvers = ('cvxpy', 'ecos')
    torchjd_state = NASH_MTL_STATE
    weight_degree = -0.5
    default_update_scale = 'sum'

    def __init__(self, max_norm: float = 1.0, update_weights_every: int = 1,
                 optim_niter: int = 20, tol: float = 1e-2,
                 num_tasks: Optional[int] = None,
                 update_scale: Optional[str] = None,
                 recompute_every: int = 1) -> None:
        super().__init__(num_tasks=num_tasks, update_scale=update_scale,
                         recompute_every=recompute_every)
        n = require_num_tasks(self, num_tasks)
        if max_norm < 0 or tol <= 0:
            raise ValueError(f'NashMTL: need max_norm >= 0 and tol > 0, got '
                             f'max_norm={max_norm}, tol={tol}')
        self.max_norm, self.tol = max_norm, tol

        # clipped here, on the real scale (see _paper_weights)
        self._build(lambda: nash_mtl_weighting(n, update_weights_every,
                                               optim_niter))

    def _solve(self, gramian: Tensor) -> Tensor:
        nash = self.weighting
        solving = nash_mtl_solves_now(nash)
        with warnings.catch_warnings():
            # cvxpy notes on every new problem that it is not DPP (it is
            # rebuilt on resume only), and ECOS's inaccurate solutions are
            # checked below
            warnings.filterwarnings('ignore', message='.*not DPP')
            warnings.filterwarnings('ignore', message='.*inaccurate')
            alpha = nash(gramian_factor(gramian))
        residual = bargaining_residual(gramian, alpha)
        if solving and residual > self.tol:
            alpha = solve_bargaining(gramian, 1.0, start=alpha)
            # the next step starts from a valid point
            set_nash_mtl_start(nash, alpha)
            self._warn_fallback(
                f'the convex approximations missed G a = 1/a by '
                f'{residual:.3g} (max_t |a_t (G a)_t - 1|); used a Newton '
                f'solve of it instead (residual '
                f'{bargaining_residual(gramian, alpha):.1e})')
        return alpha

    def _paper_weights(self, gramian: Tensor) -> Tensor:
        weights = super()._paper_weights(gramian)
        if self.max_norm > 0:
            norm = float(weights @ gramian.to(weights) @ weights)**0.5
            if norm > self.max_norm:
                weights = weights * (self.max_norm / norm)
        return weights

    def set_extra_state(self, state: Optional[Dict[str, Any]]) -> None:
        super().set_extra_state(state)
        rebuild_nash_mtl_problem(self.weighting)
