"""Log warnings for a balancer that starves a task, and for an update that
``clip_grad`` keeps cutting."""
import logging
import statistics
from collections import deque
from typing import Dict, Optional, Union

from mmengine.logging import print_log


class BalancerMonitor:
    """Watches the task weights and the gradient clipping of a
    :class:`MultiTaskOptimWrapper` and warns in the log (mmengine's current
    logger) when

    * a task's weight stays at most ``min_fraction`` times the largest task
      weight (0 included) for ``patience`` consecutive steps: that task has
      next to no say over the shared parameters;
    * ``clip_grad`` clipped more than ``clip_fraction`` of the last
      ``clip_window`` optimizer steps: the balanced update is far larger
      than the ``max_norm`` the config was tuned for (Nash-MTL's paper-scale
      weights did this in feature mode), and clipping then rescales every
      step, the heads' gradients included.

    Each warning names the method (and the task); it is given again only
    after its condition has cleared.

    Args:
        method (str): The balancer's name, for the messages.
        patience (int): Consecutive low-weight steps before warning.
            Default 100.
        min_fraction (float): A weight at most this times the largest one
            counts as low. Default 0.01.
        clip_window (int): Optimizer steps over which clipping is counted.
            Default 100.
        clip_fraction (float): Warn when more than this share of the window
            was clipped. Default 0.5.
    """

    def __init__(self, method: str, patience: int = 100,
                 min_fraction: float = 0.01, clip_window: int = 100,
                 clip_fraction: float = 0.5) -> None:
        if patience < 1 or clip_window < 1 or not 0 <= min_fraction < 1 \
                or not 0 <= clip_fraction < 1:
            raise ValueError(
                f'BalancerMonitor: need patience >= 1, clip_window >= 1 and '
                f'min_fraction, clip_fraction in [0, 1), got '
                f'patience={patience}, clip_window={clip_window}, '
                f'min_fraction={min_fraction}, clip_fraction={clip_fraction}')
        self.method = method
        self.patience, self.min_fraction = patience, min_fraction
        self.clip_fraction = clip_fraction
        self._low_steps: Dict[str, int] = {}
        self._norms: deque = deque(maxlen=clip_window)
        self._clip_warned = False

    @classmethod
    def build(cls, method: str, cfg: Union[dict, bool, None]
              ) -> Optional['BalancerMonitor']:
        """From the optim wrapper's ``monitor`` argument: a dict of the
        arguments above, ``True``/``None`` (defaults) or ``False`` (off)."""
        if cfg is False:
            return None
        if cfg is None or cfg is True:
            cfg = {}
        if not isinstance(cfg, dict):
            raise TypeError(f'optim_wrapper.monitor must be a dict or a '
                            f'bool, got {cfg!r}')
        return cls(method, **cfg)

    def observe_weights(self, weights: Dict[str, float]) -> None:
        """One step's weights of the tasks present (task name -> weight)."""
        if len(weights) < 2:
            return
        top = max(weights.values())
        for task, w in weights.items():
            low = w <= self.min_fraction * max(top, 0.0)
            count = self._low_steps.get(task, 0) + 1 if low else 0
            self._low_steps[task] = count
            if count == self.patience:
                print_log(
                    f'{self.method}: task {task!r} has had a weight of at '
                    f'most {self.min_fraction:g} times the largest task '
                    f'weight for {count} consecutive steps (now {w:.3g}, '
                    f'largest {top:.3g}): its gradient has next to no say '
                    f'over the shared parameters. See docs/balancers.md '
                    f'(update_scale, jacobian_mode).', logger='current',
                    level=logging.WARNING)

    def observe_clip(self, grad_norm: float, max_norm: float) -> None:
        """One optimizer step's gradient norm (before clipping)."""
        self._norms.append(grad_norm)
        if len(self._norms) < self._norms.maxlen:
            return
        clipped = sum(n > max_norm for n in self._norms)
        share = clipped / len(self._norms)
        if share > self.clip_fraction and not self._clip_warned:
            self._clip_warned = True
            print_log(
                f'{self.method}: clip_grad (max_norm={max_norm:g}) clipped '
                f'{clipped} of the last {len(self._norms)} steps (median '
                f'grad_norm {statistics.median(self._norms):.3g}): the '
                f"balanced update's scale is far from what max_norm was set "
                f'for, and every clipped step is rescaled, heads included. '
                f'See docs/balancers.md (update_scale).', logger='current',
                level=logging.WARNING)
        elif share <= self.clip_fraction / 2:
            self._clip_warned = False
