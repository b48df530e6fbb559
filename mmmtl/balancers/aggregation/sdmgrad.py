"""SDMGrad (Xiao et al., 2023)."""
from typing import Optional, Sequence

from torchjd.aggregation import SDMGradWeighting

from mmmtl.registry import BALANCERS
from ._pref import pref_tensor
from .torchjd_adapter import SDMGRAD_STATE, TorchJDWeighting


@BALANCERS.register_module()
class SDMGrad(TorchJDWeighting):
    r"""Stochastic Direction-oriented Multi-objective Gradient descent.

    Xiao, Ban & Ji, "Direction-oriented Multi-objective Learning: Simple and
    Provable Stochastic Algorithms", NeurIPS 2023 (arXiv:2305.18409),
    Algorithm 1.

    The update stays close to a preferred direction :math:`g_0 = J^\top
    \tilde w` (default :math:`\tilde w = \frac1T\mathbf 1`, the mean
    gradient) while improving all tasks: with

    .. math::
        w^* = \arg\min_{w \in \Delta}
            \tfrac12 \big\| J^\top (w + \lambda \tilde w) \big\|^2 ,

    found by ``n_iter`` steps of projected SGD with momentum, warm-started
    from the previous step's :math:`w` (state, saved in checkpoints), the
    update is :math:`J^\top (w^* + \lambda\tilde w)/(1+\lambda)`. The inner
    problem reads inner products only (a matrix :math:`A = J J^\top`,
    normalised by the mean of :math:`\sqrt{A_{tt}}` squared, as the
    authors' code): torchjd's ``SDMGradWeighting``.

    The paper's unbiased estimator takes :math:`A = J_\xi J_{\xi'}^\top`
    from two independent mini-batches and the update from a third; the
    optim wrapper has one batch per step, so here :math:`A` is the
    Gramian of the step's batch and the update uses the same batch (the
    single-batch variant, biased as MGDA's stochastic version is).

    Args:
        lambda_ (float): :math:`\lambda \ge 0`, the pull toward
            :math:`g_0`. Default 0.3 (the authors' experiments).
        lr (float): Step size of the inner SGD. Default 10.
        momentum (float): Its momentum. Default 0.5.
        n_iter (int): Inner iterations per step. Default 20.
        pref_vector (Sequence[float], optional): :math:`\tilde w`.
        num_tasks (int, optional): Number of tasks.
        update_scale (str, optional): ``'paper'`` (default), ``'sum'`` or
            ``'norm'``: see :class:`TorchJDWeighting`.
        recompute_every (int): Compute the weights every this many
            steps, reuse them in between (see :class:`GramianWeighting`).
            Default 1.
    """

    supports_task_subsets = False
    torchjd_state = SDMGRAD_STATE

    def __init__(self, lambda_: float = 0.3, lr: float = 10.0,
                 momentum: float = 0.5, n_iter: int = 20,
                 pref_vector: Optional[Sequence[float]] = None,
                 num_tasks: Optional[int] = None,
                 update_scale: Optional[str] = None,
                 recompute_every: int = 1) -> None:
        super().__init__(num_tasks=num_tasks, update_scale=update_scale,
                         recompute_every=recompute_every)
        pref = pref_tensor('SDMGrad', pref_vector, num_tasks)
        self._build(lambda: SDMGradWeighting(
            lr=lr, momentum=momentum, n_iter=n_iter, lambda_=lambda_,
            pref_vector=pref))
