"""DualProj (Quinton & Rey, 2024)."""
from typing import Optional, Sequence

from torchjd.aggregation import DualProjWeighting
from torchjd.linalg import QuadprogProjector

from mmmtl.registry import BALANCERS
from ._pref import pref_tensor
from .torchjd_adapter import TorchJDWeighting


@BALANCERS.register_module()
class DualProj(TorchJDWeighting):
    r"""Projection of the averaged gradient onto the dual cone.

    Quinton & Rey, "Jacobian Descent for Multi-Objective Optimization",
    2024 (arXiv:2406.16232), which names it after the projection of
    Lopez-Paz & Ranzato's GEM ("Gradient Episodic Memory for Continual
    Learning", NeurIPS 2017, arXiv:1706.08840).

    .. math::
        g = \arg\min_{y:\ J y \ge 0} \Big\|y - \sum_t p_t g_t\Big\|^2 ,

    :math:`p` the preference vector (default :math:`\frac1T\mathbf 1`). By
    duality :math:`g = J^\top v`, :math:`v = \arg\min_{v \ge p} v^\top G v`,
    a quadratic program on the Gramian (quadprog; torchjd's
    ``DualProjWeighting``). Like UPGrad it never conflicts with a task.

    Args:
        pref_vector (Sequence[float], optional): :math:`p`.
        norm_eps (float): See :class:`UPGrad`. Default 1e-4.
        reg_eps (float): See :class:`UPGrad`. Default 1e-4.
        num_tasks (int, optional): Number of tasks.
        update_scale (str, optional): ``'paper'`` (default), ``'sum'`` or
            ``'norm'``: see :class:`TorchJDWeighting`.
        recompute_every (int): Compute the weights every this many
            steps, reuse them in between (see :class:`GramianWeighting`).
            Default 1.

    Needs ``mmmtl[solvers]`` (quadprog, qpsolvers).
    """

    solvers = ('qpsolvers', 'quadprog')

    def __init__(self, pref_vector: Optional[Sequence[float]] = None,
                 norm_eps: float = 1e-4, reg_eps: float = 1e-4,
                 num_tasks: Optional[int] = None,
                 update_scale: Optional[str] = None,
                 recompute_every: int = 1) -> None:
        super().__init__(num_tasks=num_tasks, update_scale=update_scale,
                         recompute_every=recompute_every)
        pref = pref_tensor('DualProj', pref_vector, num_tasks)

        def make():
            return DualProjWeighting(pref, projector=QuadprogProjector(
                norm_eps=norm_eps, reg_eps=reg_eps))

        self._build(make)
