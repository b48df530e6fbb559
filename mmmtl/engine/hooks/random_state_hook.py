"""Random states in the checkpoint, so that a resumed run is exact."""
import logging
import random
from typing import Optional

import numpy as np
import torch
from mmdet.registry import HOOKS
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.logging import print_log

CHECKPOINT_KEY = 'random_states'


def get_random_states() -> dict:
    """The random states of this process: python, numpy, torch (and CUDA).

    Plain values and tensors only, so a checkpoint holding them loads with
    torch's ``weights_only=True``.
    """
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    states = dict(
        python=random.getstate(),
        numpy=(name, torch.from_numpy(keys.astype(np.int64)), int(pos),
               int(has_gauss), float(gauss)),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def set_random_states(states: dict) -> None:
    """Bring back states given by :func:`get_random_states`."""
    version, internal, gauss_next = states['python']
    random.setstate((version, tuple(internal), gauss_next))
    name, keys, pos, has_gauss, gauss = states['numpy']
    np.random.set_state(
        (name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(states['torch'])
    if states.get('cuda') is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states['cuda'])


class _RestoreBeforeBatch:
    """Wraps the train loop's data iterator: after ``skip`` batches (the
    loop's fast-forward over the batches trained before the checkpoint) it
    sets the random states, then hands the loop its own iterator back."""

    def __init__(self, loop, skip: int, states: dict) -> None:
        self.loop, self.skip, self.states = loop, skip, states
        self.inner = loop.dataloader_iterator

    def __iter__(self):
        return self

    def __next__(self):
        if self.skip > 0:
            self.skip -= 1
            return next(self.inner)
        set_random_states(self.states)
        self.loop.dataloader_iterator = self.inner
        return next(self.inner)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Saves the random states with each checkpoint and brings them back on
    resume, so that stopping at iteration k and resuming trains exactly what
    the uninterrupted run would have (dropout masks, augmentation drawn in
    the main process, random choices of balancers).

    Timing: the states are saved right after iteration k (with the
    checkpoint) and set again right before batch k+1 is fetched, i.e. after
    mmengine's ``IterBasedTrainLoop`` has fast-forwarded its data iterator
    over the first k batches on resume (that fast-forward re-runs their
    augmentation and moves the sampler to its position; data-loader workers
    are seeded by the seed and replay the same draws, so their states match
    too). An epoch-based loop gets them back in ``before_train``.
    Validation leaves the training's random stream as it found it, so a
    validation right after a checkpoint does not part the two runs.

    Under DDP only rank 0 saves a checkpoint, so every rank gets rank 0's
    states; that is exact when the ranks draw alike (the default
    ``randomness=dict(diff_rank_seed=False)``). ``tools/train.py`` adds
    this hook to every run.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._pending: Optional[dict] = None
        self._before_val: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[CHECKPOINT_KEY] = get_random_states()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # also called for `load_from` without resume; before_train tells
        # them apart by the iteration the loop starts from
        self._pending = checkpoint.get(CHECKPOINT_KEY)

    def before_train(self, runner) -> None:
        states, self._pending = self._pending, None
        if states is None or runner.iter == 0:
            return
        randomness = getattr(runner, '_randomness_cfg', None) or {}
        if get_rank() != 0 and randomness.get('diff_rank_seed'):
            print_log('RandomStateHook: diff_rank_seed=True, the checkpoint '
                      "holds rank 0's random states only: not restored on "
                      'this rank', logger='current',
                      level=logging.WARNING)
            return
        loop = runner.train_loop
        if hasattr(loop, 'dataloader_iterator'):
            loop.dataloader_iterator = _RestoreBeforeBatch(
                loop, runner.iter, states)
        else:
            set_random_states(states)

    def before_val(self, runner) -> None:
        self._before_val = get_random_states()

    def after_val(self, runner) -> None:
        if self._before_val is not None:
            set_random_states(self._before_val)
            self._before_val = None
