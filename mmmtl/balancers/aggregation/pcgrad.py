"""PCGrad (Yu et al., 2020)."""
from typing import Optional

from torchjd.aggregation import PCGradWeighting

from mmmtl.registry import BALANCERS
from .torchjd_adapter import TorchJDWeighting


@BALANCERS.register_module()
class PCGrad(TorchJDWeighting):
    r"""Projecting Conflicting Gradients (gradient surgery).

    Yu, Kumar, Gupta, Levine, Hausman & Finn, "Gradient Surgery for
    Multi-Task Learning", NeurIPS 2020 (arXiv:2001.06782), Algorithm 1.

    For every task :math:`i`, starting from :math:`g_i^{PC} = g_i`, visit
    the other tasks :math:`j` in random order and, when they conflict,
    remove the component along :math:`g_j`:

    .. math::
        \text{if } g_i^{PC}\cdot g_j < 0:\quad
        g_i^{PC} \leftarrow g_i^{PC}
            - \frac{g_i^{PC}\cdot g_j}{\|g_j\|^2}\, g_j ,
        \qquad \text{update} = \sum_i g_i^{PC} .

    Each :math:`g_i^{PC}` is a combination :math:`\sum_k c_{ik} g_k` whose
    coefficients need inner products only, so the weights
    :math:`w = \sum_i c_i` come from the Gramian (torchjd's
    ``PCGradWeighting``).

    Args:
        seed (int, optional): Seed of the task orders (see
            :class:`~mmmtl.balancers.Balancer`); default: mmengine's. All
            ranks project in the same order.
        num_tasks (int, optional): Number of tasks.
        update_scale (str, optional): ``'paper'`` (default), ``'sum'`` or
            ``'norm'``: see :class:`TorchJDWeighting`.
        recompute_every (int): Compute the weights every this many
            steps, reuse them in between (see :class:`GramianWeighting`).
            Default 1.
    """

    uses_rng = True

    def __init__(self, seed: Optional[int] = None,
                 num_tasks: Optional[int] = None,
                 update_scale: Optional[str] = None,
                 recompute_every: int = 1) -> None:
        super().__init__(num_tasks=num_tasks, seed=seed,
                         update_scale=update_scale,
                         recompute_every=recompute_every)
        self._build(PCGradWeighting)
