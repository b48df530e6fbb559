"""Dynamic Weight Average (Liu, Johns & Davison, 2019)."""
from typing import Optional

import torch
from torch import Tensor

from mmmtl.registry import BALANCERS
from ..base import LossWeighting


@BALANCERS.register_module()
class DWA(LossWeighting):
    r"""Dynamic Weight Average.

    Liu, Johns & Davison, "End-to-End Multi-Task Learning with Attention"
    (MTAN), CVPR 2019 (arXiv:1803.10704).

    .. math::
        w_t(k) = \frac{T \exp(r_t(k-1)/\tau)}{\sum_i \exp(r_i(k-1)/\tau)},
        \qquad r_t(k-1) = \frac{\bar L_t(k-1)}{\bar L_t(k-2)}

    where :math:`\bar L_t(k)` is the mean loss of task :math:`t` over period
    :math:`k`. The paper's period is an epoch; training here counts
    iterations, so a period is ``interval`` iterations. The weights are 1
    until two periods have been seen.

    Args:
        temperature (float): :math:`\tau`. Default 2.
        interval (int): Iterations per period. Default 500.
    """

    supports_task_subsets = False

    def __init__(self, temperature: float = 2.0, interval: int = 500,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        if num_tasks is None:
            raise ValueError('DWA needs `num_tasks` (the optim wrapper '
                             'constructor passes it)')
        if interval < 1 or temperature <= 0:
            raise ValueError('DWA: `interval` must be >= 1 and `temperature` '
                             '> 0')
        self.temperature = temperature
        self.interval = interval
        self.register_buffer('running_sum', torch.zeros(num_tasks))
        self.register_buffer('count', torch.zeros((), dtype=torch.long))
        # mean losses of the last two complete periods: [k-2, k-1]
        self.register_buffer('period_means', torch.zeros(2, num_tasks))
        self.register_buffer('periods', torch.zeros((), dtype=torch.long))

    def weigh(self, losses: Tensor) -> Tensor:
        self._check_losses(losses)
        if self.periods >= 2:
            ratio = self.period_means[1] / self.period_means[0].clamp(
                min=1e-12)
            weights = len(losses) * torch.softmax(ratio / self.temperature, 0)
        else:
            weights = torch.ones_like(self.running_sum)
        # record this step's losses for the next periods
        self.running_sum += losses.detach().to(self.running_sum)
        self.count += 1
        if self.count == self.interval:
            self.period_means[0] = self.period_means[1]
            self.period_means[1] = self.running_sum / self.interval
            self.running_sum.zero_()
            self.count.zero_()
            self.periods += 1
        return weights.to(losses)
