"""A running average of the task gradients, kept across steps.

DB-MTL and MoCo average each task's gradient over steps, in the
coordinates of the Jacobian the optim wrapper hands over. Those are the
shared parameters' in parameter mode (the methods force it); if the
Jacobian's width changes anyway, the average restarts, with a warning.
"""
import warnings

import torch
from torch import Tensor, nn


class GradientAverage(nn.Module):
    """Mixin of a :class:`JacobianAggregator`: the ``T x P`` buffer ``ema``
    (created on the first step, in the Jacobian's dtype and device) and the
    step count ``step`` (1 on the first step), both saved in checkpoints."""

    def _init_average(self) -> None:
        self.register_buffer('step', torch.zeros((), dtype=torch.long))
        self.register_buffer('ema', None)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # a fresh balancer has no average yet: make room for the saved one
        saved = state_dict.get(prefix + 'ema')
        if saved is not None and (self.ema is None
                                  or self.ema.shape != saved.shape):
            self.ema = torch.empty_like(saved)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _average_for(self, jacobian: Tensor) -> Tensor:
        """The average (zeros on the first step, or after a restart), on
        the Jacobian's dtype and device; counts the step."""
        if self.ema is not None and self.ema.shape != jacobian.shape:
            warnings.warn(f'{type(self).__name__}: the Jacobian changed '
                          f'shape from {tuple(self.ema.shape)} to '
                          f'{tuple(jacobian.shape)}; restarting its '
                          f'gradient average')
            self.ema = None
            self.step.zero_()
        if self.ema is None:
            self.ema = torch.zeros_like(jacobian)
        elif self.ema.device != jacobian.device or \
                self.ema.dtype != jacobian.dtype:
            self.ema = self.ema.to(jacobian)
        self.step += 1
        return self.ema
