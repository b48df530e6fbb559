"""GradDrop (Chen et al., 2020)."""
from typing import Optional, Sequence, Union

import torch
from torch import Tensor
from torchjd.aggregation import GradDrop as TorchJDGradDrop

from mmmtl.registry import BALANCERS
from ..base import JacobianAggregator


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
        seed (int, optional): Seed of the draws (see
            :class:`~mmmtl.balancers.Balancer`); default: mmengine's. A
            resumed run draws what the uninterrupted one would have.
        num_tasks (int, optional): Number of tasks.
    """

    uses_rng = True

    def __init__(self, leak: Optional[Union[float, Sequence[float]]] = None,
                 seed: Optional[int] = None,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks, seed=seed)
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

    def aggregate(self, losses: Tensor, jacobian: Tensor) -> Tensor:
        t = losses.numel()
        leak = None
        if self.leak is not None:
            leak = self.leak.expand(t) if self.leak.dim() == 0 else self.leak
            if leak.numel() != t:
                raise ValueError(f'GradDrop: {leak.numel()} leak values for '
                                 f'{t} tasks')
            leak = leak.to(jacobian)
        aggregator = TorchJDGradDrop(leak=leak)
        with self.random_draws(jacobian.device, global_stream=True):
            return aggregator(jacobian)
