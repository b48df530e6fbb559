"""Gradient Vaccine (Wang et al., 2021)."""
from typing import Optional

from torchjd.aggregation import GradVacWeighting

from mmmtl.registry import BALANCERS
from .torchjd_adapter import GRADVAC_STATE, TorchJDWeighting


@BALANCERS.register_module()
class GradVac(TorchJDWeighting):
    r"""Gradient Vaccine.

    Wang, Tsvetkov, Firat & Cao, "Gradient Vaccine: Investigating and
    Improving Multi-task Optimization in Massively Multilingual Models",
    ICLR 2021 (arXiv:2010.05874).

    Keeps, for every ordered pair of tasks, an EMA target
    :math:`\hat\phi_{ij}` (initially 0) of the cosine similarity of their
    gradients. For every task :math:`i` and the other tasks :math:`j` in
    random order, with :math:`\phi_{ij} = \cos(g_i^{PC}, g_j)`: if
    :math:`\phi_{ij} < \hat\phi_{ij}`,

    .. math::
        g_i^{PC} \leftarrow g_i^{PC} +
        \frac{\|g_i^{PC}\|\,(\hat\phi_{ij}\sqrt{1-\phi_{ij}^2}
              - \phi_{ij}\sqrt{1-\hat\phi_{ij}^2})}
             {\|g_j\|\sqrt{1-\hat\phi_{ij}^2}}\; g_j ,

    which raises the similarity to :math:`\hat\phi_{ij}`; then
    :math:`\hat\phi_{ij} \leftarrow (1-\beta)\hat\phi_{ij} + \beta\phi_{ij}`.
    The update is :math:`\sum_i g_i^{PC}`. With all targets at 0 (the first
    step) this is PCGrad. Computed on the Gramian by torchjd's
    ``GradVacWeighting``; the targets are state (saved in checkpoints).

    Args:
        beta (float): EMA rate of the targets. Default 0.5 (torchjd's and
            LibMTL's default).
        eps (float): Added to denominators. Default 1e-8.
        seed (int, optional): Seed of the task orders (see
            :class:`~mmmtl.balancers.Balancer`); default: mmengine's.
        num_tasks (int, optional): Number of tasks (the targets are sized
            on the first step).
        update_scale (str, optional): ``'paper'`` (default), ``'sum'`` or
            ``'norm'``: see :class:`TorchJDWeighting`.
        recompute_every (int): Compute the weights every this many
            steps, reuse them in between (see :class:`GramianWeighting`).
            Default 1.
    """

    supports_task_subsets = False
    uses_rng = True
    torchjd_state = GRADVAC_STATE

    def __init__(self, beta: float = 0.5, eps: float = 1e-8,
                 seed: Optional[int] = None,
                 num_tasks: Optional[int] = None,
                 update_scale: Optional[str] = None,
                 recompute_every: int = 1) -> None:
        super().__init__(num_tasks=num_tasks, seed=seed,
                         update_scale=update_scale,
                         recompute_every=recompute_every)
        self._build(lambda: GradVacWeighting(beta=beta, eps=eps))
