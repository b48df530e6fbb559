"""Gradient Vaccine (Wang et al., 2021)."""
from typing import Optional

from torchjd.aggregation import GradVacWeighting

from mmmtl.registry import BALANCERS
from .torchjd_adapter import TorchJDWeighting


@BALANCERS.register_module()
class GradVac(TorchJDWeighting):
    r"""Gradient Vaccine.

    Wang, Tsvetkov, Firat & Cao, "Gradient Vaccine: Investigating and
    Improving Multi-task Optimization in Massively Multilingual Models",
    ICLR 2021 (arXiv:2010.05874).

    Keeps an EMA target :math:`\hat\phi_{ij}` of the cosine similarity of
    each pair of task gradients (:math:`\hat\phi \leftarrow (1-\beta)
    \hat\phi + \beta\phi`); when the current similarity :math:`\phi_{ij}`
    falls below it, adds to :math:`g_i` the multiple of :math:`g_j` that
    raises the similarity to :math:`\hat\phi_{ij}`:

    .. math:: g_i \leftarrow g_i + \frac{\|g_i\|(\hat\phi_{ij}
        \sqrt{1-\phi_{ij}^2} - \phi_{ij}\sqrt{1-\hat\phi_{ij}^2})}
        {\|g_j\|\sqrt{1-\hat\phi_{ij}^2}}\, g_j .

    The targets are state: saved in checkpoints, restored on resume.
    """

    supports_task_subsets = False

    state_attrs = ('_phi_t', '_state_key')

    def __init__(self, beta: float = 0.5, eps: float = 1e-8,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        self._build(lambda: GradVacWeighting(beta=beta, eps=eps))
