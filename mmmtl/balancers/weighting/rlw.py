"""Random Loss Weighting (Lin et al., 2022)."""
from typing import Optional

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

    Step :math:`k`'s draw comes from a generator seeded with
    ``seed + k`` (:math:`k` is the ``step`` buffer), not from torch's global
    RNG: every rank draws the same weights and a resumed run draws what the
    uninterrupted one would have.

    Args:
        dist (str): ``'normal'``, ``'uniform'`` or ``'dirichlet'``.
        seed (int): Base seed. Default 0.
        num_tasks (int, optional): Number of tasks.
    """

    def __init__(self, dist: str = 'normal', seed: int = 0,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        if dist not in ('normal', 'uniform', 'dirichlet'):
            raise ValueError(f"RLW: dist must be 'normal', 'uniform' or "
                             f"'dirichlet', got {dist!r}")
        self.dist = dist
        self.seed = int(seed)
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
            # Exp(1) = Gamma(1) draws, normalised: a flat Dirichlet
            e = -torch.log1p(-torch.rand(t, generator=gen))
            w = e / e.sum()
        return w.to(device=losses.device, dtype=losses.dtype)
