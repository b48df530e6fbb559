"""GradDrop (Chen et al., 2020)."""
from typing import Optional, Sequence, Union

import torch
from torch import Tensor
from torchjd.aggregation import GradDrop as TorchJDGradDrop

from mmmtl.registry import BALANCERS
from ..base import JacobianAggregator
from .torchjd_adapter import seeded_rng


@BALANCERS.register_module()
class GradDrop(JacobianAggregator):
    r"""Gradient Sign Dropout.

    Chen, Ngiam, Huang, Luong, Kretzschmar, Chai & Anguelov, "Just Pick a
    Sign: Optimizing Deep Multitask Models with Gradient Sign Dropout",
    NeurIPS 2020 (arXiv:2010.06808), Algorithm 1.

    For every coordinate of the task gradients, the positive sign purity

    .. math:: P = \frac12\Big(1 + \frac{\sum_t g_t}{\sum_t |g_t|}\Big)

    and a uniform draw :math:`U`: keep the positive components where
    :math:`P > U`, the negative ones where :math:`P < U`; the update is the
    sum over tasks of :math:`(\ell_t + (1-\ell_t) M_t)\, g_t`, :math:`M_t`
    the keep mask and :math:`\ell_t` the task's leak (0: full GradDrop,
    1: plain sum). The paper applies it to the gradients at the shared
    activations, which is the optim wrapper's feature mode. torchjd's
    ``GradDrop`` aggregator (:math:`f` = identity).

    Args:
        leak (float | Sequence[float], optional): :math:`\ell`, one value
            for all tasks or one per task. Default: no leak.
        seed (int, optional): An int: step ``k``'s draws come from a
            generator seeded with ``seed + k`` (step kept in the state), so
            a resumed run repeats the uninterrupted one. ``None`` (default):
            torch's global RNG (in feature mode every rank masks its own
            samples' gradients, so independent draws per rank are natural).
        num_tasks (int, optional): Number of tasks.
    """

    def __init__(self, leak: Optional[Union[float, Sequence[float]]] = None,
                 seed: Optional[int] = None,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        if leak is not None:
            leak_t = torch.as_tensor(leak, dtype=torch.float64)
            if leak_t.dim() > 1 or ((leak_t < 0) | (leak_t > 1)).any():
                raise ValueError(f'GradDrop: leak must be a number or a list '
                                 f'of numbers in [0, 1], got {leak!r}')
            if (leak_t.dim() == 1 and num_tasks is not None
                    and leak_t.numel() != num_tasks):
                raise ValueError(f'GradDrop: {leak_t.numel()} leak values '
                                 f'for {num_tasks} tasks')
            leak = leak_t
        self.leak = leak
        self.seed = seed
        self.register_buffer('rng_step', torch.zeros((), dtype=torch.long))

    def aggregate(self, losses: Tensor, jacobian: Tensor) -> Tensor:
        self._check_losses(losses)
        t = losses.numel()
        if jacobian.dim() != 2 or jacobian.shape[0] != t:
            raise ValueError(f'GradDrop expects a {t} x P Jacobian for {t} '
                             f'losses, got shape {tuple(jacobian.shape)}')
        leak = None
        if self.leak is not None:
            leak = self.leak.expand(t) if self.leak.dim() == 0 else self.leak
            if leak.numel() != t:
                raise ValueError(f'GradDrop: {leak.numel()} leak values for '
                                 f'{t} tasks')
            leak = leak.to(jacobian)
        aggregator = TorchJDGradDrop(leak=leak)
        with seeded_rng(self.seed, int(self.rng_step), jacobian.device):
            update = aggregator(jacobian.detach())
        self.rng_step += 1
        return update
