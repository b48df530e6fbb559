"""The gradient-reversal layer of domain-adversarial training (DANN).

Ganin & Lempitsky, "Unsupervised Domain Adaptation by Backpropagation",
ICML 2015 (and Ganin et al., JMLR 2016): a discriminator learns to tell the
domains (here: data sources) apart from the shared features, and the
features learn to make that impossible, because between the two sits a
layer that is the identity forward and multiplies the gradient by
``-lambda`` backward. One backward pass then trains the discriminator to
minimise its loss and the shared layers to maximise it (weighted by
``lambda``).
"""
import math
from typing import Optional

import torch
from torch import Tensor, nn


class _ReverseGradient(torch.autograd.Function):
    """y = x forward; dL/dx = -lambda * dL/dy backward."""

    @staticmethod
    def forward(ctx, x: Tensor, lambda_: float) -> Tensor:
        ctx.lambda_ = lambda_
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        return -ctx.lambda_ * grad_output, None


def reverse_gradient(x: Tensor, lambda_: float = 1.0) -> Tensor:
    """``x`` unchanged, with its gradient multiplied by ``-lambda_``."""
    return _ReverseGradient.apply(x, float(lambda_))


def dann_lambda(progress: float, gamma: float = 10.0) -> float:
    """DANN's ramp of the reversal weight over training:
    ``2 / (1 + exp(-gamma * p)) - 1`` for progress ``p`` in [0, 1]: 0 at the
    start (the discriminator's early, noisy gradient does not reach the
    features), close to 1 from mid-training on (0.987 at p=0.5)."""
    if not 0.0 <= progress <= 1.0:
        raise ValueError(f'training progress {progress} outside [0, 1]')
    return 2.0 / (1.0 + math.exp(-gamma * progress)) - 1.0


class GradientReversal(nn.Module):
    """Gradient reversal with a weight that is constant or follows DANN's
    schedule.

    Args:
        max_lambda (float): The weight (``schedule='constant'``) or the
            weight the schedule tends to (``'dann'``: ``max_lambda *
            dann_lambda(p, gamma)``). Default 1.
        schedule (str): ``'constant'`` or ``'dann'``. With ``'dann'`` the
            training progress ``p`` is set by :meth:`set_progress`
            (:class:`GradientReversalScheduleHook` does, each iteration);
            training before it was ever set is an error. Default ``'dann'``.
        gamma (float): Steepness of DANN's ramp. Default 10 (the paper's).
    """

    SCHEDULES = ('constant', 'dann')

    def __init__(self, max_lambda: float = 1.0, schedule: str = 'dann',
                 gamma: float = 10.0) -> None:
        super().__init__()
        if schedule not in self.SCHEDULES:
            raise ValueError(f'GradientReversal: schedule={schedule!r}, '
                             f'expected one of {self.SCHEDULES}')
        self.max_lambda = float(max_lambda)
        self.schedule = schedule
        self.gamma = float(gamma)
        self.progress: Optional[float] = None

    def set_progress(self, progress: float) -> None:
        """Set the training progress (iteration / total iterations)."""
        dann_lambda(progress, self.gamma)  # checks the range
        self.progress = float(progress)

    @property
    def lambda_(self) -> float:
        """The weight of the reversed gradient now."""
        if self.schedule == 'constant':
            return self.max_lambda
        if self.progress is None:
            raise RuntimeError(
                "GradientReversal(schedule='dann') has no training progress:"
                " add dict(type='GradientReversalScheduleHook') to "
                "custom_hooks (or call set_progress)")
        return self.max_lambda * dann_lambda(self.progress, self.gamma)

    def forward(self, x: Tensor) -> Tensor:
        if not (torch.is_grad_enabled() and x.requires_grad):
            return x  # no backward pass: nothing to reverse
        return reverse_gradient(x, self.lambda_)

    def extra_repr(self) -> str:
        return (f'max_lambda={self.max_lambda}, schedule={self.schedule!r},'
                f' gamma={self.gamma}')
