"""Nash-MTL (Navon et al., 2022)."""
import warnings
from typing import Any, Dict, Optional

from torch import Tensor

from mmmtl.registry import BALANCERS
from ..base import gramian_factor
from ..weighting._checks import require_num_tasks
from .torchjd_adapter import TorchJDWeighting


@BALANCERS.register_module()
class NashMTL(TorchJDWeighting):
    r"""Multi-task learning as a bargaining game.

    Navon, Shamsian, Achituve, Maron, Kawaguchi, Chechik & Fetaya,
    "Multi-Task Learning as a Bargaining Game", ICML 2022
    (arXiv:2202.01017), Algorithm 1.

    The update :math:`g = J^\top\alpha` is the Nash bargaining solution,
    characterised by

    .. math:: G\alpha = 1/\alpha \quad(\text{element-wise}),\qquad
        \alpha \ge 0 ,

    i.e. every task's improvement :math:`g_t^\top g` times its weight is the
    same. It is found by the paper's sequence of convex approximations
    (cvxpy/ECOS, on :math:`G/\|G\|_F`), started from the previous step's
    solution, and :math:`\|g\|` is clipped to ``max_norm``.

    torchjd implements it only on a Jacobian (its ``_NashMTLWeighting``
    reads a matrix). The solution depends on the gradients only through
    :math:`G` (the solver forms :math:`M M^\top`, the clipping uses
    :math:`\|M^\top\alpha\|^2 = \alpha^\top G\alpha`), so it runs on the
    :math:`T \times T` factor :math:`M` of :func:`gramian_factor`
    (:math:`M M^\top = G`) and its weights apply to the real gradients.

    The previous solution and step count are state (saved in checkpoints).

    Args:
        max_norm (float): Clip :math:`\|J^\top\alpha\|` to this; 0 disables
            the clipping. Default 1.0 (the authors' code's).
        update_weights_every (int): Solve every this many steps, reusing
            the last weights in between. Default 1.
        optim_niter (int): Iterations of the convex approximations.
            Default 20.
        num_tasks (int): Number of tasks (required).

    Needs ``mmmtl[solvers]`` (cvxpy, ecos).
    """

    supports_task_subsets = False
    solvers = ('cvxpy', 'ecos')
    torchjd_state = ('step', 'prvs_alpha', 'normalization_factor')

    def __init__(self, max_norm: float = 1.0, update_weights_every: int = 1,
                 optim_niter: int = 20,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        n = require_num_tasks(self, num_tasks)

        def make():
            from torchjd.aggregation._nash_mtl import _NashMTLWeighting
            return _NashMTLWeighting(
                n_tasks=n, max_norm=max_norm,
                update_weights_every=update_weights_every,
                optim_niter=optim_niter)

        self._build(make)

    def _solve(self, gramian: Tensor) -> Tensor:
        with warnings.catch_warnings():
            # cvxpy notes on every new problem that it is not DPP (it is
            # rebuilt on resume only): not actionable here
            warnings.filterwarnings('ignore', message='.*not DPP')
            return self.weighting(gramian_factor(gramian))

    def set_extra_state(self, state: Optional[Dict[str, Any]]) -> None:
        super().set_extra_state(state)
        if self.weighting.step > 0:
            # torchjd builds the cvxpy problem on its first step only: build
            # it for the restored state, as the uninterrupted run has it
            self.weighting._init_optim_problem()
