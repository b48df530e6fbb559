"""Skipping the steps whose losses or gradients are not finite.

One NaN/inf loss or gradient, in any task, would otherwise be written into
every shared weight by the optimizer step (and into the optimizer's moments
for good). :class:`StepGuard` makes such a step leave the model as it was:

* the losses are checked before any backward (averaged over ranks first, so
  a NaN on any rank is seen by all);
* each step's gradients are taken into fresh ``.grad`` tensors and checked
  (agreed over ranks) before they join the ones accumulated so far;
* the balancer's state is put back (loss histories, EMA targets, the
  random generator), and so are the model's buffers (BatchNorm running
  statistics) as they were before this step's forward pass;
* the optimizer step of that accumulation window is not taken.

Each skipped step is named in a warning (tasks, what was not finite, the
iteration) and counted; after ``max_consecutive_skips`` skipped steps in a
row training stops with an error.
"""
import copy
import logging
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Sequence

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

from .rank_sync import all_ranks


class NonFiniteStep(Exception):
    """A step's ``what`` ('loss' or 'gradient') is not finite in ``tasks``
    (on this rank; empty when only another rank's, or only the shared
    parameters', are)."""

    def __init__(self, what: str, tasks: Sequence[str]) -> None:
        super().__init__(what, list(tasks))
        self.what, self.tasks = what, list(tasks)

    def describe(self) -> str:
        where = (f'task(s) {self.tasks}' if self.tasks else
                 'another rank or the shared parameters only')
        return f'non-finite {self.what} in {where}'


class StepGuard:
    """Detects non-finite steps, undoes them, counts them.

    Args:
        max_consecutive_skips (int, optional): Raise after this many skipped
            steps in a row. None: never.
    """

    def __init__(self, max_consecutive_skips: Optional[int] = 50) -> None:
        if max_consecutive_skips is not None and max_consecutive_skips < 1:
            raise ValueError('optim_wrapper.max_consecutive_skips must be a '
                             f'positive int or None, got '
                             f'{max_consecutive_skips!r}')
        self.max_consecutive_skips = max_consecutive_skips
        self.skipped_steps = 0
        self.consecutive = 0
        self._buffers: List[tuple] = []

    def save_buffers(self, model: nn.Module) -> None:
        """Remember the model's buffers before this step's forward pass."""
        self._buffers = [(b, b.detach().clone()) for b in model.buffers()]

    def check_losses(self, names: List[str], global_losses: Tensor) -> None:
        """Raise :class:`NonFiniteStep` if a loss (averaged over ranks, so
        every rank sees the same) is not finite."""
        finite = torch.isfinite(global_losses)
        if not bool(finite.all()):
            raise NonFiniteStep('loss', [n for n, ok in
                                         zip(names, finite.tolist())
                                         if not ok])

    @contextmanager
    def fresh_gradients(self, params: Sequence[nn.Parameter], balancer,
                        task_params: Dict[str, Sequence[nn.Parameter]]
                        ) -> Iterator[None]:
        """Run a step's backward into empty ``.grad``; if it (or what it
        produced, on any rank) is not finite, restore the gradients and the
        balancer's state and raise :class:`NonFiniteStep`; else add the
        step's gradients to those accumulated before."""
        before = [p.grad for p in params]
        for p in params:
            p.grad = None
        state = copy.deepcopy(balancer.state_dict())
        try:
            yield
            finite = _all_finite([p.grad for p in params])
            if not all_ranks(finite, params[0].device):
                raise NonFiniteStep('gradient',
                                    _tasks_with_bad_grads(task_params))
        except NonFiniteStep:
            for p, g in zip(params, before):
                p.grad = g
            balancer.load_state_dict(state)
            raise
        for p, g in zip(params, before):
            if g is not None:
                p.grad = g if p.grad is None else g + p.grad

    def skipped(self, reason: NonFiniteStep, iteration: int) -> None:
        """Record a skipped step (``iteration``: 1-based, as in the
        training log): put the buffers back, warn, count, and raise after
        too many in a row."""
        for buf, saved in self._buffers:
            buf.copy_(saved)
        self.skipped_steps += 1
        self.consecutive += 1
        print_log(
            f'Iteration {iteration}: training step skipped, {reason.describe()} '
            f'(weights, optimizer and balancer state left as they were; '
            f'{self.skipped_steps} step(s) skipped so far).',
            logger='current', level=logging.WARNING)
        limit = self.max_consecutive_skips
        if limit is not None and self.consecutive >= limit:
            raise RuntimeError(
                f'{self.consecutive} consecutive training steps were skipped '
                f'for non-finite losses or gradients (last, at iteration '
                f'{iteration}: {reason.describe()}); '
                f'optim_wrapper.max_consecutive_skips={limit}. Check the '
                'data of that task, its loss and the learning rate, or raise '
                'max_consecutive_skips (None: never stop).')

    def passed(self) -> None:
        """Record a step that was taken."""
        self.consecutive = 0
        self._buffers = []


def _all_finite(grads: Sequence[Optional[Tensor]]) -> bool:
    checks = [torch.isfinite(g).all() for g in grads if g is not None]
    return not checks or bool(torch.stack(checks).all())


def _tasks_with_bad_grads(task_params: Dict[str, Sequence[nn.Parameter]]
                          ) -> List[str]:
    return [name for name, params in task_params.items()
            if not _all_finite([p.grad for p in params])]
