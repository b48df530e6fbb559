"""Conflict-Averse Gradient descent (Liu et al., 2021)."""
from typing import Optional

from torchjd.aggregation import CAGradWeighting

from mmmtl.registry import BALANCERS
from .torchjd_adapter import TorchJDWeighting


@BALANCERS.register_module()
class CAGrad(TorchJDWeighting):
    r"""Conflict-Averse Gradient descent.

    Liu, Liu, Jin, Stone & Liu, "Conflict-Averse Gradient Descent for
    Multi-task Learning", NeurIPS 2021 (arXiv:2110.14048), Algorithm 1.

    With :math:`g_0 = \frac1T\sum_t g_t`, the update maximises the worst
    task's improvement in a ball around :math:`g_0`:

    .. math::
        \max_d \min_t\, g_t^\top d \quad\text{s.t.}\quad
        \|d - g_0\| \le c\,\|g_0\| .

    Its dual is :math:`\min_{w\in\Delta} g_w^\top g_0 + c\|g_0\|\|g_w\|`
    (:math:`g_w = J^\top w`), whose solution gives
    :math:`d = g_0 + \frac{c\|g_0\|}{\|g_w\|} g_w`, i.e. the weights
    :math:`\frac1T + \frac{c\|g_0\|}{\|g_w\|} w`. Everything is an inner
    product, solved on the Gramian (cvxpy/Clarabel, torchjd's
    ``CAGradWeighting``). :math:`c = 0` gives the mean gradient.

    Args:
        c (float): Radius of the ball, relative to :math:`\|g_0\|`.
            Default 0.4 (the paper's value on NYUv2/Cityscapes).
        norm_eps (float): Below this norm :math:`g_w` counts as 0 (torchjd
            also zeroes the Gramian when its trace is below it, which gave
            all-zero weights on small feature Gramians; mmmtl hands torchjd
            :math:`G/s`, trace :math:`T`, see :class:`TorchJDWeighting`).
            Default 1e-4.
        num_tasks (int, optional): Number of tasks.
        update_scale (str, optional): ``'paper'`` (default), ``'sum'`` or
            ``'norm'``: see :class:`TorchJDWeighting`.
        recompute_every (int): Compute the weights every this many
            steps, reuse them in between (see :class:`GramianWeighting`).
            Default 1.

    Needs ``mmmtl[solvers]`` (cvxpy).
    """

    solvers = ('cvxpy', 'clarabel')

    def __init__(self, c: float = 0.4, norm_eps: float = 1e-4,
                 num_tasks: Optional[int] = None,
                 update_scale: Optional[str] = None,
                 recompute_every: int = 1) -> None:
        super().__init__(num_tasks=num_tasks, update_scale=update_scale,
                         recompute_every=recompute_every)
        self._build(lambda: CAGradWeighting(c=c, norm_eps=norm_eps))
