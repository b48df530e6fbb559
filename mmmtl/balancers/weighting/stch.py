"""Smooth Tchebycheff scalarization (Lin et al., 2024)."""
from typing import List, Optional, Sequence

import torch
from torch import Tensor
from torchjd.scalarization import STCH as TorchJDSTCH

from mmmtl.registry import BALANCERS
from ..aggregation._pref import pref_tensor
from .scalarizer_adapter import ScalarizerWeighting


@BALANCERS.register_module()
class STCH(ScalarizerWeighting):
    r"""Smooth Tchebycheff scalarization.

    Lin, Zhang, Yang, Zhang & Zhang, "Smooth Tchebycheff Scalarization for
    Multi-Objective Optimization", ICML 2024 (arXiv:2402.19078), Eq. 9.

    The objective is a smooth maximum of the weighted excess losses,

    .. math::
        S(L) = \mu \log \sum_t
            \exp\Big(\frac{\lambda_t (L_t - z^*_t)}{\mu}\Big),

    which tends to :math:`\max_t \lambda_t (L_t - z^*_t)` (Tchebycheff) as
    :math:`\mu \to 0` and is smooth for :math:`\mu > 0`. The loss weights
    are its gradient,

    .. math::
        w_t = \frac{\partial S}{\partial L_t} = \lambda_t\,
            \mathrm{softmax}_t\Big(\frac{\lambda (L - z^*)}{\mu}\Big),

    so the task furthest above its ideal point gets most of the weight.
    torchjd's ``torchjd.scalarization.STCH`` computes :math:`S`; the weights
    are its gradient (see :class:`ScalarizerWeighting`). With the default
    :math:`\lambda_t = 1/T` the weights sum to at most :math:`1/T` (equal
    weighting's sum to :math:`T`): scale the learning rate accordingly.

    Partial labels: the present tasks' :math:`\lambda` and :math:`z^*`
    entries are used (the default :math:`\lambda` is :math:`1/T'` over the
    :math:`T'` present tasks).

    Args:
        mu (float): Smoothing :math:`\mu > 0`. Default 0.1 (the paper
            reports small values working well; it tries 0.01 to 1).
        pref_vector (Sequence[float], optional): :math:`\lambda`; default
            :math:`1/T` each.
        reference (Sequence[float], optional): The ideal point :math:`z^*`;
            default 0 (losses are non-negative).
        num_tasks (int, optional): Number of tasks.
    """

    def __init__(self, mu: float = 0.1,
                 pref_vector: Optional[Sequence[float]] = None,
                 reference: Optional[Sequence[float]] = None,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        if mu <= 0:
            raise ValueError(f'STCH: mu must be positive, got {mu}')
        self.mu = float(mu)
        # configuration, not state: not saved in checkpoints
        self.register_buffer('pref', pref_tensor('STCH', pref_vector,
                                                 num_tasks),
                             persistent=False)
        self.register_buffer('reference', pref_tensor('STCH', reference,
                                                      num_tasks),
                             persistent=False)

    def _entries(self, values: Optional[Tensor], losses: Tensor,
                 tasks: Optional[List[int]]) -> Optional[Tensor]:
        if values is None:
            return None
        if tasks is not None:
            values = values[tasks]
        if values.numel() != losses.numel():
            raise ValueError(f'STCH: {values.numel()} pref_vector/reference '
                             f'entries for {losses.numel()} task losses')
        return values.to(losses)

    def scalarize(self, losses: Tensor, tasks: Optional[List[int]]
                  ) -> Tensor:
        return TorchJDSTCH(self.mu,
                           weights=self._entries(self.pref, losses, tasks),
                           reference=self._entries(self.reference, losses,
                                                   tasks))(losses)
