"""FairGrad (Ban & Ji, 2024)."""
from typing import Optional

from mmmtl.registry import BALANCERS
from .torchjd_adapter import TorchJDWeighting


@BALANCERS.register_module()
class FairGrad(TorchJDWeighting):
    r"""Fair resource allocation in multi-task learning.

    Ban & Ji, "Fair Resource Allocation in Multi-Task Learning", ICML 2024
    (arXiv:2402.15638).

    Chooses the update :math:`g = J^\top w` whose task improvements
    :math:`J g = G w` maximise the :math:`\alpha`-fair utility
    :math:`\sum_t (g_t^\top g)^{1-\alpha}/(1-\alpha)`; the optimality
    condition :math:`G w = w^{-1/\alpha}` is solved on the Gramian with
    scipy (torchjd's ``FairGradWeighting``). :math:`\alpha = 1` is
    proportional fairness (Nash-MTL's condition). Needs ``mmmtl[solvers]``.
    """

    def __init__(self, alpha: float = 1.0, max_iters: Optional[int] = None,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)

        def make():
            from torchjd.aggregation import FairGradWeighting
            return FairGradWeighting(alpha=alpha, max_iters=max_iters)

        self._build(make)
