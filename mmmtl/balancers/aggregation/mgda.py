"""MGDA (Désidéri, 2012; Sener & Koltun, 2018) and MGDA-UB."""
from typing import Optional

from torchjd.aggregation import MGDAWeighting

from mmmtl.registry import BALANCERS
from .torchjd_adapter import TorchJDWeighting


@BALANCERS.register_module()
class MGDA(TorchJDWeighting):
    r"""Multiple-Gradient Descent Algorithm.

    Désidéri, "Multiple-gradient descent algorithm (MGDA) for
    multiobjective optimization", 2012; Sener & Koltun, "Multi-Task
    Learning as Multi-Objective Optimization", NeurIPS 2018
    (arXiv:1810.04650).

    The update is the minimum-norm point of the convex hull of the task
    gradients:

    .. math:: w = \arg\min_{w \ge 0,\ \sum w = 1} \|J^\top w\|^2
        = \arg\min w^\top G w ,

    solved by Frank-Wolfe on the Gramian (torchjd's ``MGDAWeighting``). For
    two opposite gradients the update is 0 (a Pareto-stationary point).
    """

    def __init__(self, epsilon: float = 1e-3, max_iters: int = 100,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        self._build(lambda: MGDAWeighting(epsilon=epsilon,
                                          max_iters=max_iters))


@BALANCERS.register_module()
class MGDAUB(MGDA):
    r"""MGDA-UB: MGDA on the gradients w.r.t. the shared representation.

    Sener & Koltun 2018, section 3.3: with :math:`z` the shared features,
    :math:`\|\sum_t w_t \nabla_\theta L_t\|^2 \le \|\partial z/\partial
    \theta\|^2 \|\sum_t w_t \nabla_z L_t\|^2`, so minimising the bound only
    needs the feature gradients: one backward per head instead of one per
    task through the encoder. That is the optim wrapper's feature mode,
    which this class forces (``jacobian_mode = 'feature'``).
    """

    jacobian_mode = 'feature'
