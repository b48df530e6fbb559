"""Random Loss Weighting (Lin et al., 2022)."""
from typing import List, Optional

import torch
from torch import Tensor

from mmmtl.registry import BALANCERS
from ..base import LossWeighting


@BALANCERS.register_module()
class RLW(LossWeighting):
    r"""Random Loss Weighting.

    Lin, Ye, Zhang & Tsang, "Reasonable Effectiveness of Random Weighting:
    A Litmus Test for Multi-Task Learning", TMLR 2022 (arXiv:2111.10603).

    Each step draws :math:`\tilde\lambda \sim p(\tilde\lambda)` and uses
    :math:`w = \mathrm{softmax}(\tilde\lambda)` (weights sum to 1), with
    ``dist``:

    * ``'normal'``: :math:`\tilde\lambda \sim \mathcal N(0, I_T)` (the
      paper's main choice);
    * ``'uniform'``: :math:`\tilde\lambda \sim U(0, 1)^T`, then softmax;
    * ``'dirichlet'``: :math:`w \sim \mathrm{Dir}(\mathbf 1)` directly
      (normalised standard exponentials), no softmax.

    The draws come from the balancer's own seeded generator (see
    :meth:`~mmmtl.balancers.Balancer.random_draws`), not from torch's global
    RNG: every rank draws the same weights and a resumed run draws what the
    uninterrupted one would have.

    Args:
        dist (str): ``'normal'``, ``'uniform'`` or ``'dirichlet'``.
        seed (int, optional): Seed of the draws; default: mmengine's.
        num_tasks (int, optional): Number of tasks.
    """

    uses_rng = True

    def __init__(self, dist: str = 'normal', seed: Optional[int] = None,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks, seed=seed)
        if dist not in ('normal', 'uniform', 'dirichlet'):
            raise ValueError(f"RLW: dist must be 'normal', 'uniform' or "
                             f"'dirichlet', got {dist!r}")
        self.dist = dist

    def weigh(self, losses: Tensor,
              tasks: Optional[List[int]] = None) -> Tensor:
        t = losses.numel()
        with self.random_draws() as gen:
            if self.dist == 'normal':
                return torch.softmax(torch.randn(t, generator=gen), 0)
            if self.dist == 'uniform':
                return torch.softmax(torch.rand(t, generator=gen), 0)
            # Exp(1) = Gamma(1) draws, normalised: a flat Dirichlet
            e = -torch.log1p(-torch.rand(t, generator=gen))
            return e / e.sum()
