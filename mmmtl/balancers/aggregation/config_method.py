"""ConFIG (Liu et al., 2024)."""
from typing import Optional

import torch
from torch import Tensor
from torchjd.aggregation import ConFIG as TorchJDConFIG

from mmmtl.registry import BALANCERS
from ..base import GramianWeighting, gramian_factor


@BALANCERS.register_module()
class ConFIG(GramianWeighting):
    r"""Conflict-Free Inverse Gradients.

    Liu, Chen & Thuerey, "ConFIG: Towards Conflict-free Training of Physics
    Informed Neural Networks", ICLR 2025 (arXiv:2408.11104).

    With unit gradients :math:`u_t = g_t/\|g_t\|`, the direction is
    :math:`d = U^{+}\mathbf 1` (pseudo-inverse: equal cosine with every
    task) normalised, scaled by :math:`\sum_t g_t^\top \hat d`:
    :math:`g = (\sum_t g_t^\top \hat d)\,\hat d`. It lies in the span of the
    task gradients and depends on them only through inner products, so
    torchjd's ``ConFIG`` run on a factor :math:`M` (:math:`MM^\top = G`)
    gives :math:`v = M^\top c`, and the same coefficients :math:`c`
    (recovered by least squares: any solution gives the same
    :math:`J^\top c`, since :math:`J` and :math:`M` have the same row
    dependencies) combine the real gradients.
    """

    def __init__(self, num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        self.aggregator = TorchJDConFIG()

    def weigh(self, losses: Tensor, gramian: Tensor) -> Tensor:
        self._check_losses(losses)
        m = gramian_factor(gramian)
        v = self.aggregator(m)
        return torch.linalg.lstsq(m.T, v.unsqueeze(1)).solution.squeeze(1)
