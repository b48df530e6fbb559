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
    Multi-Objective Optimization", ICML 2024 (arXiv:2402.19078), Eq. 9:
    a smooth maximum of the weighted excess objectives,

    .. math::
        S(f) = \mu \log \sum_t
            \exp\Big(\frac{\lambda_t (f_t - z^*_t)}{\mu}\Big),

    which tends to :math:`\max_t \lambda_t (f_t - z^*_t)` as
    :math:`\mu \to 0`. The loss weights are its gradient
    :math:`w_t = \partial S / \partial L_t` (torchjd's
    ``torchjd.scalarization.STCH`` computes :math:`S`; see
    :class:`ScalarizerWeighting`), so the task furthest above its ideal
    point gets most of the weight.

    ``normalize='log-nadir'`` (default) is the authors' multi-task recipe
    (their STCH_MTL code): for the first ``warmup_iters + nadir_iters``
    steps the objective is :math:`\sum_t \log L_t` (weights
    :math:`1/L_t`), and the mean loss of each task over the last
    ``nadir_iters`` of them is its nadir :math:`n_t`; after that
    :math:`f_t = \log(L_t / n_t)`, :math:`z^* = 0`, :math:`\lambda_t = 1`
    (:math:`T \lambda_t` for a given ``pref_vector``) and the objective is
    :math:`T \cdot S`, so

    .. math::
        w_t = \frac{T}{L_t}\,\mathrm{softmax}_t
            \Big(\frac{\log(L_t / n_t)}{\mu}\Big),

    which does not depend on the scale of any task's loss. The paper's
    experiments count the warm-up in epochs; here it is in calls of the
    balancer (training steps; micro-batches under gradient accumulation).
    ``normalize='none'`` is Eq. 9 on the raw losses (:math:`f = L`,
    :math:`\lambda_t = 1/T`, the given ``reference`` :math:`z^*`): there a
    loss in larger units takes all the weight (on the hard synthetic
    preset, segmentation's loss, 20 times detection's, left detection a
    weight below 1e-2 for the whole run: docs/balancers.md).

    Partial labels: the present tasks' :math:`\lambda`, :math:`z^*` and
    :math:`n` are used; a task's nadir averages the steps it was present.

    Args:
        mu (float): Smoothing :math:`\mu > 0`. Default 0.1 (the paper
            tries 0.01 to 1 and reports small values working well).
        pref_vector (Sequence[float], optional): :math:`\lambda`; default
            :math:`1/T` each.
        reference (Sequence[float], optional): The ideal point :math:`z^*`
            of ``normalize='none'``; default 0.
        normalize (str): ``'log-nadir'`` (default) or ``'none'``.
        warmup_iters (int): ``'log-nadir'``: steps of the log objective
            before the nadir is measured. Default 100.
        nadir_iters (int): ``'log-nadir'``: steps whose mean losses are
            the nadir (the log objective goes on meanwhile). Default 100.
        num_tasks (int, optional): Number of tasks.
    """

    def __init__(self, mu: float = 0.1,
                 pref_vector: Optional[Sequence[float]] = None,
                 reference: Optional[Sequence[float]] = None,
                 normalize: str = 'log-nadir', warmup_iters: int = 100,
                 nadir_iters: int = 100,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        if mu <= 0:
            raise ValueError(f'STCH: mu must be positive, got {mu}')
        if normalize not in ('log-nadir', 'none'):
            raise ValueError("STCH: normalize must be 'log-nadir' or "
                             f"'none', got {normalize!r}")
        if normalize == 'log-nadir' and reference is not None:
            raise ValueError("STCH: reference is the ideal point of "
                             "normalize='none'; 'log-nadir' measures a nadir")
        if warmup_iters < 0 or nadir_iters < 1:
            raise ValueError('STCH: warmup_iters must be >= 0 and '
                             f'nadir_iters >= 1, got {warmup_iters} and '
                             f'{nadir_iters}')
        self.mu, self.normalize = float(mu), normalize
        self.warmup_iters, self.nadir_iters = warmup_iters, nadir_iters
        # configuration, not state: not saved in checkpoints
        self.register_buffer('pref', pref_tensor('STCH', pref_vector,
                                                 num_tasks),
                             persistent=False)
        self.register_buffer('reference', pref_tensor('STCH', reference,
                                                      num_tasks),
                             persistent=False)
        # state: steps seen, and the sums that make the nadir
        self.register_buffer('steps', torch.zeros((), dtype=torch.long))
        self.register_buffer('loss_sum', torch.zeros(
            num_tasks or 0, dtype=torch.float64))
        self.register_buffer('loss_count', torch.zeros(
            num_tasks or 0, dtype=torch.long))

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
        pref = self._entries(self.pref, losses, tasks)
        if self.normalize == 'none':
            return TorchJDSTCH(self.mu, weights=pref,
                               reference=self._entries(self.reference,
                                                       losses, tasks))(losses)
        nadir = self._step_nadir(losses.detach(), tasks)
        if nadir is None:  # warm-up
            return losses.log().sum()
        num = losses.numel()
        weights = torch.ones_like(losses) if pref is None else num * pref
        return num * TorchJDSTCH(self.mu, weights=weights)(
            (losses / nadir).log())

    def _step_nadir(self, losses: Tensor, tasks: Optional[List[int]]
                    ) -> Optional[Tensor]:
        """Count the step; add its losses to the nadir's sums while they
        are measured (and for a task not seen then); the nadir once the
        warm-up is over, else None."""
        num_tasks = self.num_tasks or losses.numel()
        if self.loss_sum.numel() != num_tasks:
            self.loss_sum = self.loss_sum.new_zeros(num_tasks)
            self.loss_count = self.loss_count.new_zeros(num_tasks)
        idx = torch.arange(num_tasks) if tasks is None else \
            torch.as_tensor(tasks)
        step = int(self.steps)
        self.steps += 1
        unseen = self.loss_count[idx] == 0
        if step >= self.warmup_iters:
            add = torch.ones_like(unseen) if \
                step < self.warmup_iters + self.nadir_iters else unseen
            self.loss_sum[idx[add]] += losses.cpu().double()[add]
            self.loss_count[idx[add]] += 1
        if step < self.warmup_iters + self.nadir_iters:
            return None
        return (self.loss_sum[idx] / self.loss_count[idx]).to(losses)
