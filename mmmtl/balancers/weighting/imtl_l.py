"""IMTL-L (Liu et al., 2021)."""
from typing import List, Optional

from torch import Tensor
from torchjd.scalarization import IMTLL as TorchJDIMTLL

from mmmtl.registry import BALANCERS
from ..checks import require_num_tasks
from .scalarizer_adapter import ScalarizerWeighting


@BALANCERS.register_module()
class IMTLL(ScalarizerWeighting):
    r"""Impartial Multi-Task Learning, loss balancing (IMTL-L).

    Liu, Li, Kuang, Xue, Chen, Yang, Liao & Zhang, "Towards Impartial
    Multi-task Learning", ICLR 2021, section 3.2.

    Each task has a learned scale :math:`s_t` (initially 0) and the
    objective is

    .. math:: S = \sum_t \big(e^{s_t} L_t - s_t\big),

    minimised jointly in the network and in :math:`s`: at the optimum in
    :math:`s_t`, :math:`e^{s_t} L_t = 1`, so every scaled loss is 1 (the
    paper's "impartial" losses). The loss weights are
    :math:`w_t = e^{s_t}`; :math:`s` is trained by the model's optimizer
    (MultiTaskOptimWrapperConstructor adds it) through
    :meth:`regularizer`. torchjd's ``torchjd.scalarization.IMTLL`` holds
    :math:`s` and computes :math:`S` (see :class:`ScalarizerWeighting`). It
    is :class:`UncertaintyWeighting` (:math:`\sum_t e^{-u_t} L_t + u_t`)
    with :math:`u = -s`: the same objective from the same start, so the
    two train the same model (on the hard preset their metrics agree to
    the last logged digit); the paper pairs it with IMTL-G
    (:class:`IMTLG`) for the shared parameters.

    Partial labels are not supported (every task's :math:`s_t` is in the
    objective; an absent task's term would push its :math:`s_t` up): such
    steps sum the present losses, as for the other methods with coupled
    state.

    Args:
        num_tasks (int): Number of tasks (required).
    """

    supports_task_subsets = False

    def __init__(self, num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        self.scalarizer = TorchJDIMTLL(require_num_tasks(self, num_tasks))

    def scalarize(self, losses: Tensor, tasks: Optional[List[int]]
                  ) -> Tensor:
        return self.scalarizer(losses)
