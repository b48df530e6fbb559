"""MGDA (Désidéri, 2012; Sener & Koltun, 2018) and MGDA-UB."""
from typing import Optional

from torchjd.aggregation import MGDAWeighting

from mmmtl.registry import BALANCERS
from .torchjd_adapter import TorchJDWeighting


@BALANCERS.register_module()
class MGDA(TorchJDWeighting):
    r"""Multiple-Gradient Descent Algorithm.

    Désidéri, "Multiple-gradient descent algorithm (MGDA) for
    multiobjective optimization", C. R. Math. 2012; Sener & Koltun,
    "Multi-Task Learning as Multi-Objective Optimization", NeurIPS 2018
    (arXiv:1810.04650), Algorithm 2 (Frank-Wolfe solver).

    The update is the minimum-norm element of the convex hull of the task
    gradients:

    .. math::
        w = \arg\min_{w \ge 0,\ \sum_t w_t = 1} \|J^\top w\|^2
          = \arg\min_{w \in \Delta} w^\top G w ,

    solved by Frank-Wolfe on the Gramian (torchjd's ``MGDAWeighting``). It
    is zero exactly at Pareto-stationary points, e.g. for two opposite
    gradients.

    Args:
        epsilon (float): Frank-Wolfe stops when its step falls below this.
            Default 1e-3.
        max_iters (int): At most this many Frank-Wolfe iterations.
            Default 100.
        num_tasks (int, optional): Number of tasks.
        update_scale (str, optional): ``'paper'`` (default), ``'sum'`` or
            ``'norm'``: see :class:`TorchJDWeighting`.
        recompute_every (int): Compute the weights every this many
            steps, reuse them in between (see :class:`GramianWeighting`).
            Default 1.
    """

    def __init__(self, epsilon: float = 1e-3, max_iters: int = 100,
                 num_tasks: Optional[int] = None,
                 update_scale: Optional[str] = None,
                 recompute_every: int = 1) -> None:
        super().__init__(num_tasks=num_tasks, update_scale=update_scale,
                         recompute_every=recompute_every)
        self._build(lambda: MGDAWeighting(epsilon=epsilon,
                                          max_iters=max_iters))


@BALANCERS.register_module()
class MGDAUB(MGDA):
    r"""MGDA-UB: MGDA on the gradients w.r.t. the shared representation.

    Sener & Koltun, "Multi-Task Learning as Multi-Objective Optimization",
    NeurIPS 2018 (arXiv:1810.04650), section 3.3.

    With shared features :math:`z = f(x;\theta)`,
    :math:`\nabla_\theta L_t = (\partial z/\partial\theta)^\top \nabla_z L_t`,
    so :math:`\|\sum_t w_t \nabla_\theta L_t\|^2 \le
    \|\partial z/\partial\theta\|^2\, \|\sum_t w_t \nabla_z L_t\|^2`.
    MGDA-UB minimises this upper bound: the same min-norm problem as
    :class:`MGDA`, on the Gramian of the feature gradients
    :math:`\nabla_z L_t`, which needs one backward through each head and a
    single one through the encoder. That is the optim wrapper's feature
    mode; the class attribute ``jacobian_mode = 'feature'`` makes the
    wrapper use it whatever its own ``jacobian_mode`` says.
    """

    #: Read by MultiTaskOptimWrapper: always take gradients w.r.t. the
    #: shared features.
    jacobian_mode = 'feature'
