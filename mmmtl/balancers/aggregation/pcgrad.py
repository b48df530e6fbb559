"""PCGrad (Yu et al., 2020)."""
from typing import Optional

from torchjd.aggregation import PCGradWeighting

from mmmtl.registry import BALANCERS
from .torchjd_adapter import TorchJDWeighting


@BALANCERS.register_module()
class PCGrad(TorchJDWeighting):
    r"""Projecting Conflicting Gradients.

    Yu, Kumar, Gupta, Levine, Hausman & Finn, "Gradient Surgery for
    Multi-Task Learning", NeurIPS 2020 (arXiv:2001.06782).

    For each task :math:`i`, and the other tasks :math:`j` in random order:
    if :math:`g_i^{PC} \cdot g_j < 0`, project
    :math:`g_i^{PC} \leftarrow g_i^{PC} - \frac{g_i^{PC}\cdot g_j}
    {\|g_j\|^2} g_j`; the update is :math:`\sum_i g_i^{PC}`. Every
    :math:`g_i^{PC}` is a combination of the :math:`g_j` with coefficients
    computed from inner products only, so torchjd's ``PCGradWeighting``
    gets them from the Gramian.
    """

    def __init__(self, num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        self._build(PCGradWeighting)
