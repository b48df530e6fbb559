"""UPGrad (Quinton & Rey, 2024)."""
from typing import Optional, Sequence

from torchjd.aggregation import UPGradWeighting
from torchjd.linalg import QuadprogProjector

from mmmtl.registry import BALANCERS
from ._pref import pref_tensor
from .torchjd_adapter import TorchJDWeighting


@BALANCERS.register_module()
class UPGrad(TorchJDWeighting):
    r"""Unconflicting Projection of Gradients.

    Quinton & Rey, "Jacobian Descent for Multi-Objective Optimization",
    2024 (arXiv:2406.16232).

    Projects every task gradient onto the dual cone of the task gradients,
    :math:`C = \{y : J y \ge 0\}` (the directions that increase no loss to
    first order), and combines the projections with the preference vector
    :math:`p` (default :math:`\frac1T\mathbf 1`):

    .. math::
        g = \sum_t p_t\, \pi_C(g_t), \qquad
        \pi_C(x) = \arg\min_{y \in C} \|y - x\|^2 .

    The result never conflicts with a task (:math:`Jg \ge 0`). By duality
    :math:`\pi_C(g_t) = J^\top v_t` with
    :math:`v_t = \arg\min_{v \ge e_t} v^\top G v`, a quadratic program on the
    Gramian (quadprog; torchjd's ``UPGradWeighting``).

    Args:
        pref_vector (Sequence[float], optional): :math:`p`.
        norm_eps (float): The QP runs on :math:`G/\mathrm{tr}\,G`; below this
            trace the weights are 0. mmmtl hands torchjd :math:`G/s` (trace
            :math:`T`, see :class:`TorchJDWeighting`), so only an all-zero
            Gramian is affected (on a raw Gramian of trace below 1e-4, as
            small feature gradients give, it silently gave the mean).
            Default 1e-4.
        reg_eps (float): Added to the normalised Gramian's diagonal to make
            it positive definite. Default 1e-4.
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
        pref = pref_tensor('UPGrad', pref_vector, num_tasks)

        def make():
            return UPGradWeighting(pref, projector=QuadprogProjector(
                norm_eps=norm_eps, reg_eps=reg_eps))

        self._build(make)
