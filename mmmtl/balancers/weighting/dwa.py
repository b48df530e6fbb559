"""Dynamic Weight Average (Liu, Johns & Davison, 2019)."""
from typing import List, Optional

import torch
from torch import Tensor

from mmmtl.registry import BALANCERS
from ..base import LossWeighting
from ..checks import require_num_tasks


@BALANCERS.register_module()
class DWA(LossWeighting):
    r"""Dynamic Weight Average.

    Liu, Johns & Davison, "End-to-End Multi-Task Learning with Attention"
    (MTAN), CVPR 2019 (arXiv:1803.10704), Eq. 7.

    .. math::
        w_t(k) = \frac{T \exp(r_t(k-1)/\tau)}{\sum_i \exp(r_i(k-1)/\tau)},
        \qquad r_t(k-1) = \frac{\bar L_t(k-1)}{\bar L_t(k-2)},

    where :math:`\bar L_t(k)` is the mean loss of task :math:`t` over period
    :math:`k` and :math:`\tau` the temperature: a task whose loss fell less
    gets more weight. The paper's period is an epoch; training here counts
    iterations, so a period is ``interval`` calls of :meth:`weigh` (one per
    iteration; one per micro-step under gradient accumulation) and
    :math:`\bar L` is the mean of the losses seen in it. The weights are 1
    until two periods are complete.

    Partial labels: on a step where some tasks have no labelled sample, the
    present tasks get their entries of :math:`w(k)` and only their losses
    count toward their period means (each task's mean is over the steps it
    was present). A task absent for a whole period keeps its last mean
    (:math:`r_t = 1` once, no change); until a task has two period means
    its :math:`r_t` is 1.

    The running sums and counts of the current period and the means of the
    last two are buffers (saved in checkpoints).

    Args:
        temperature (float): :math:`\tau`. Default 2.0 (the paper's).
        interval (int): Iterations per period. Default 500.
        num_tasks (int): Number of tasks (required).
    """

    def __init__(self, temperature: float = 2.0, interval: int = 500,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        n = require_num_tasks(self, num_tasks)
        if int(interval) < 1 or temperature <= 0:
            raise ValueError(f'DWA: need interval >= 1 and temperature > 0, '
                             f'got interval={interval}, '
                             f'temperature={temperature}')
        self.temperature = float(temperature)
        self.interval = int(interval)
        self.register_buffer('running_sum',
                             torch.zeros(n, dtype=torch.float64))
        # steps each task was present in this period
        self.register_buffer('running_count', torch.zeros(n, dtype=torch.long))
        # steps of this period
        self.register_buffer('count', torch.zeros((), dtype=torch.long))
        # mean losses of the last two complete periods: rows [k-2, k-1];
        # NaN where a task has no mean yet
        self.register_buffer('period_means',
                             torch.full((2, n), float('nan'),
                                        dtype=torch.float64))
        self.register_buffer('periods', torch.zeros((), dtype=torch.long))

    def weigh(self, losses: Tensor,
              tasks: Optional[List[int]] = None) -> Tensor:
        n = self.running_sum.numel()
        tasks = list(range(n)) if tasks is None else tasks
        if int(self.periods) >= 2:
            ratio = self.period_means[1] / self.period_means[0].clamp(
                min=torch.finfo(torch.float64).tiny)
            ratio = torch.nan_to_num(ratio, nan=1.0)
            weights = n * torch.softmax(ratio / self.temperature, 0)
        else:
            weights = torch.ones_like(self.running_sum)
        # this step's losses count toward the current period
        self.running_sum[tasks] += losses.to(self.running_sum)
        self.running_count[tasks] += 1
        self.count += 1
        if int(self.count) == self.interval:
            seen = self.running_count > 0
            means = torch.where(
                seen, self.running_sum / self.running_count.clamp(min=1),
                self.period_means[1])
            self.period_means[0] = self.period_means[1]
            self.period_means[1] = means
            self.running_sum.zero_()
            self.running_count.zero_()
            self.count.zero_()
            self.periods += 1
        return weights[tasks]
