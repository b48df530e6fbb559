"""Random Loss Weighting (Lin et al., 2022)."""
from typing import Optional

import torch
from torch import Tensor

from mmmtl.registry import BALANCERS
from ..base import LossWeighting


@BALANCERS.register_module()
class RLW(LossWeighting):
    r"""Random Loss Weighting.

    Lin, Ye, Xu, Shi, Kwok & Zhang, "Reasonable Effectiveness of Random
    Weighting: A Litmus Test for Multi-Task Learning", TMLR 2022
    (arXiv:2111.10603).

    Each step draws :math:`\lambda \sim p(\lambda)` and uses
    :math:`w = \mathrm{softmax}(\lambda)` (weights sum to 1). ``dist``:
    ``'normal'`` (:math:`\mathcal N(0, I)`, the paper's default),
    ``'uniform'`` (:math:`U(0,1)^T`) or ``'dirichlet'`` (weights drawn from
    a flat Dirichlet directly).

    The draw at step :math:`k` comes from a generator seeded with
    ``seed + k`` (``k`` kept in the state), so every rank draws the same
    weights and a resumed run draws what the uninterrupted one would have.
    """

    def __init__(self, dist: str = 'normal', seed: int = 0,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        if dist not in ('normal', 'uniform', 'dirichlet'):
            raise ValueError(f"RLW: dist must be 'normal', 'uniform' or "
                             f"'dirichlet', got {dist!r}")
        self.dist = dist
        self.seed = seed
        self.register_buffer('step', torch.zeros((), dtype=torch.long))

    def weigh(self, losses: Tensor) -> Tensor:
        self._check_losses(losses)
        gen = torch.Generator().manual_seed(self.seed + int(self.step))
        self.step += 1
        t = losses.numel()
        if self.dist == 'normal':
            w = torch.softmax(torch.randn(t, generator=gen), 0)
        elif self.dist == 'uniform':
            w = torch.softmax(torch.rand(t, generator=gen), 0)
        else:
            e = -torch.log(torch.rand(t, generator=gen).clamp(min=1e-12))
            w = e / e.sum()     # Exp(1) normalised = flat Dirichlet
        return w.to(losses)
