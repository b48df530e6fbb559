"""Nash-MTL (Navon et al., 2022)."""
from typing import Optional

from torch import Tensor

from mmmtl.registry import BALANCERS
from ..base import gramian_factor
from .torchjd_adapter import TorchJDWeighting


@BALANCERS.register_module()
class NashMTL(TorchJDWeighting):
    r"""Multi-task learning as a bargaining game.

    Navon, Shamsian, Achituve, Maron, Kawaguchi, Chechik & Fetaya,
    "Multi-Task Learning as a Bargaining Game", ICML 2022
    (arXiv:2202.01017).

    The update :math:`g = J^\top \alpha` is the Nash bargaining solution,
    characterised by :math:`G\alpha = 1/\alpha` (element-wise), solved by
    the paper's sequence of convex approximations (cvxpy/ECOS; torchjd's
    implementation), with :math:`\|g\|` clipped to ``max_norm``. torchjd
    takes a Jacobian; the solution depends on the gradients only through
    :math:`G`, so it runs on a :math:`T\times T` factor :math:`M` with
    :math:`M M^\top = G`. Needs ``mmmtl[solvers]``.
    """

    supports_task_subsets = False

    state_attrs = ('step', 'prvs_alpha', 'normalization_factor')

    def __init__(self, max_norm: float = 1.0, update_weights_every: int = 1,
                 optim_niter: int = 20,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        if num_tasks is None:
            raise ValueError('NashMTL needs `num_tasks` (the optim wrapper '
                             'constructor passes it)')

        def make():
            from torchjd.aggregation._nash_mtl import _NashMTLWeighting
            return _NashMTLWeighting(
                n_tasks=num_tasks, max_norm=max_norm,
                update_weights_every=update_weights_every,
                optim_niter=optim_niter)

        self._build(make)

    def weigh(self, losses: Tensor, gramian: Tensor) -> Tensor:
        self._check_losses(losses)
        return self.weighting(gramian_factor(gramian))

    def set_extra_state(self, state) -> None:
        super().set_extra_state(state)
        if getattr(self.weighting, 'step', 0) > 0:
            # the solver problem is built on the first step; a resumed run
            # builds it from the restored state
            self.weighting._init_optim_problem()
