"""Train one task per iteration, by a fixed schedule or by sampling."""
from typing import Dict, Optional, Sequence

import numpy as np
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper


@HOOKS.register_module()
class AlternatingTasksHook(Hook):
    """Alternating task steps: each iteration trains the tasks it picks.

    Before every training iteration it sets the model's ``active_tasks``;
    inactive tasks' heads are not run at all that iteration (their losses
    are absent, so the balancer and optimizer see only the active ones).

    Either ``schedule`` cycles through a list (``['det', 'seg']``: det on
    even iterations, seg on odd; an entry may be a list of tasks trained
    together), or ``probs`` samples one task per iteration. Sampling uses a
    generator seeded with ``seed + iteration``, so every rank picks the same
    task and a resumed run picks what the uninterrupted one would have.

    Args:
        schedule (Sequence): Task names (or lists of names) to cycle through.
        probs (dict): Task name -> sampling probability (normalised).
        seed (int): Seed of the sampling. Default 0.
    """

    priority = 'NORMAL'

    def __init__(self, schedule: Optional[Sequence] = None,
                 probs: Optional[Dict[str, float]] = None,
                 seed: int = 0) -> None:
        if (schedule is None) == (probs is None):
            raise ValueError('AlternatingTasksHook: give exactly one of '
                             '`schedule` and `probs`')
        if schedule is not None:
            if not schedule:
                raise ValueError('AlternatingTasksHook: empty `schedule`')
            self.schedule = [
                [s] if isinstance(s, str) else list(s) for s in schedule
            ]
        else:
            self.schedule = None
            names = list(probs)
            p = np.asarray([probs[n] for n in names], dtype=np.float64)
            if (p < 0).any() or p.sum() <= 0:
                raise ValueError(
                    f'AlternatingTasksHook: `probs` must be non-negative and '
                    f'not all zero, got {probs}')
            self.names, self.p = names, p / p.sum()
        self.seed = seed

    def tasks_at(self, iteration: int):
        """The tasks trained at ``iteration``."""
        if self.schedule is not None:
            return self.schedule[iteration % len(self.schedule)]
        rng = np.random.default_rng(self.seed + iteration)
        return [self.names[rng.choice(len(self.names), p=self.p)]]

    def before_run(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        known = set(model.task_names)
        used = {t for group in (self.schedule or [self.names]) for t in group}
        if used - known:
            raise ValueError(
                f'AlternatingTasksHook: tasks {sorted(used - known)} are not '
                f'tasks of the model ({sorted(known)})')

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        model.active_tasks = self.tasks_at(runner.iter)

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        model.active_tasks = None
