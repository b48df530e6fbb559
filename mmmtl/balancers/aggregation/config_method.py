"""ConFIG (Liu et al., 2024)."""
from typing import Optional, Sequence

import torch
from torch import Tensor
from torchjd.aggregation import ConFIG as TorchJDConFIG

from mmmtl.registry import BALANCERS
from ._pref import pref_tensor
from .torchjd_adapter import TorchJDWeighting


@BALANCERS.register_module()
class ConFIG(TorchJDWeighting):
    r"""Conflict-Free Inverse Gradients.

    Liu, Chu & Thuerey, "ConFIG: Towards Conflict-free Training of Physics
    Informed Neural Networks", ICLR 2025 (arXiv:2408.11104), Eq. 2.

    With unit gradients :math:`u_t = g_t/\|g_t\|` (rows of :math:`U`) and
    preference :math:`p` (default :math:`\mathbf 1`), the direction
    :math:`d = U^{+} p` has the prescribed cosines with all tasks, and

    .. math::
        g = \Big(\sum_t g_t^\top \hat d\Big)\, \hat d ,
        \qquad \hat d = d/\|d\| .

    torchjd implements it only on a Jacobian (its ``ConFIG`` aggregator).
    :math:`d = U^\top(UU^\top)^{+}p` lies in the row space of :math:`J`, and
    the whole update is :math:`J^\top c` with :math:`c` a function of
    :math:`G` alone. So torchjd's ``ConFIG`` is run on the
    :math:`T\times T` factor :math:`M` (:math:`MM^\top = G`, from the
    eigendecomposition of :math:`G`, eigenvalues at rounding level dropped so
    that linearly dependent gradients stay exactly dependent), giving
    :math:`v = M^\top c`; :math:`c` is recovered as the minimum-norm least
    squares solution :math:`c = (M^\top)^{+} v`. Any solution :math:`c'` of
    :math:`M^\top c' = v` gives the same update on the real gradients,
    because :math:`\ker J^\top = \ker JJ^\top = \ker MM^\top = \ker M^\top`:
    :math:`M^\top(c'-c) = 0 \Rightarrow J^\top(c'-c) = 0`.

    Args:
        pref_vector (Sequence[float], optional): :math:`p`.
        num_tasks (int, optional): Number of tasks.
        update_scale (str, optional): ``'paper'`` (default), ``'sum'`` or
            ``'norm'``: see :class:`TorchJDWeighting`.
        recompute_every (int): Compute the weights every this many
            steps, reuse them in between (see :class:`GramianWeighting`).
            Default 1.
    """

    def __init__(self, pref_vector: Optional[Sequence[float]] = None,
                 num_tasks: Optional[int] = None,
                 update_scale: Optional[str] = None,
                 recompute_every: int = 1) -> None:
        super().__init__(num_tasks=num_tasks, update_scale=update_scale,
                         recompute_every=recompute_every)
        pref = pref_tensor('ConFIG', pref_vector, num_tasks)
        self._build(lambda: TorchJDConFIG(pref))

    def _solve(self, gramian: Tensor) -> Tensor:
        m = _truncated_factor(gramian)
        v = self.weighting(m)
        return torch.linalg.pinv(m.T) @ v


def _truncated_factor(gramian: Tensor) -> Tensor:
    """:func:`gramian_factor` with the eigenvalues at rounding level set to
    0. For linearly dependent gradients, ``G``'s null eigenvalues come out
    as about ``eps * ||G||``; their square roots (about ``sqrt(eps)`` of the
    scale) would give the factor directions that ConFIG's pseudo-inverse of
    the unit rows takes for real, where the Jacobian has exact zeros that
    it discards."""
    eigvals, eigvecs = torch.linalg.eigh(gramian)
    tol = gramian.shape[0] * torch.finfo(gramian.dtype).eps * \
        eigvals.abs().max()
    eigvals = torch.where(eigvals > tol, eigvals, torch.zeros_like(eigvals))
    return eigvecs * eigvals.sqrt().unsqueeze(0)
