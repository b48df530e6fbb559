"""IMTL-G (Liu et al., 2021)."""
from typing import Optional

from torchjd.aggregation import IMTLGWeighting

from mmmtl.registry import BALANCERS
from .torchjd_adapter import TorchJDWeighting


@BALANCERS.register_module()
class IMTLG(TorchJDWeighting):
    r"""Impartial Multi-Task Learning, gradient part.

    Liu, Li, Kuang, Xue, Chen, Yang, Liao & Zhang, "Towards Impartial
    Multi-task Learning", ICLR 2021.

    Finds the update :math:`g = J^\top w` (:math:`\sum w = 1`) whose
    projections onto every unit task gradient :math:`u_t = g_t/\|g_t\|` are
    equal: :math:`g^\top u_1 = g^\top u_t` for all :math:`t`. Closed form
    :math:`w_{2:T} = g_1 U^\top (D U^\top)^{-1}` with
    :math:`D_t = g_1 - g_t`, :math:`U_t = u_1 - u_t`; inner products only,
    so torchjd's ``IMTLGWeighting`` solves it on the Gramian.
    """

    def __init__(self, num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        self._build(IMTLGWeighting)
