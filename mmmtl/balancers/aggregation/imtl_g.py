"""IMTL-G (Liu et al., 2021)."""
from typing import Optional

from torchjd.aggregation import IMTLGWeighting

from mmmtl.registry import BALANCERS
from .torchjd_adapter import TorchJDWeighting


@BALANCERS.register_module()
class IMTLG(TorchJDWeighting):
    r"""Impartial Multi-Task Learning, gradient balancing (IMTL-G).

    Liu, Li, Kuang, Xue, Chen, Yang, Liao & Zhang, "Towards Impartial
    Multi-task Learning", ICLR 2021.

    Finds the update :math:`g = J^\top w`, :math:`\sum_t w_t = 1`, whose
    projections onto all unit task gradients :math:`u_t = g_t/\|g_t\|` are
    equal: :math:`g^\top u_1 = g^\top u_t` for all :math:`t`. The paper's
    closed form is :math:`w_{2:T} = g_1^\top U^\top (D U^\top)^{-1}` with
    rows :math:`D_t = g_1 - g_t`, :math:`U_t = u_1 - u_t`. Equivalently
    :math:`G w \propto (\|g_t\|)_t`, i.e.
    :math:`w \propto G^{+}\sqrt{\mathrm{diag}\, G}`, normalised to sum to 1:
    torchjd's ``IMTLGWeighting``, which also handles linearly dependent
    gradients (Quinton & Rey, arXiv:2406.16232).

    Args:
        num_tasks (int, optional): Number of tasks.
        update_scale (str, optional): ``'paper'`` (default), ``'sum'`` or
            ``'norm'``: see :class:`TorchJDWeighting`.
        recompute_every (int): Compute the weights every this many
            steps, reuse them in between (see :class:`GramianWeighting`).
            Default 1.
    """

    def __init__(self, num_tasks: Optional[int] = None,
                 update_scale: Optional[str] = None,
                 recompute_every: int = 1) -> None:
        super().__init__(num_tasks=num_tasks, update_scale=update_scale,
                         recompute_every=recompute_every)
        self._build(IMTLGWeighting)
