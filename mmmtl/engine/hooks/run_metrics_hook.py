"""Writes a run's evaluation metrics and training cost to one JSON file."""
import json
import os.path as osp
import statistics
import time
from typing import Dict, Optional

from mmdet.registry import HOOKS
from mmengine.dist import master_only
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper


@HOOKS.register_module()
class RunMetricsHook(Hook):
    """Keeps ``<work_dir>/metrics.json`` up to date: what a run measured.

    ``tools/train.py`` and ``tools/test.py`` add it to every run; the file
    is what ``tools/analysis_tools/delta_m.py`` and the results script read::

        {"tasks": {"det": {"kind": "detection", "label_key": null}, ...},
         "seed": 0,
         "val": {"iter": 2000, "metrics": {"coco/bbox_mAP": 0.64, ...}},
         "test": {"metrics": {...}},
         "train": {"iters": 2000, "step_time_median_s": 0.16,
                   "wall_s": 330.0}}

    ``tasks`` are the tasks the model predicts (auxiliary tasks have no
    metrics). ``val`` holds the last validation, ``test`` the last test. The step time
    is the median time of a training iteration without data loading (from
    before the iteration's forward to after its optimizer step; of the last
    segment that trained, for a resumed run); ``wall_s`` the training
    loop's wall time, summed over the segments of a resumed run: each
    checkpoint stores the time spent up to it (``meta['train_wall_s']``),
    so a run killed between checkpoints counts the iterations it redid
    once, and nothing of the segment that was lost. Only rank 0 writes.
    """

    priority = 'LOW'

    def __init__(self, filename: str = 'metrics.json') -> None:
        self.filename = filename
        self._step_times = []
        self._iter_start: Optional[float] = None
        self._run_start: Optional[float] = None
        self._wall_before = 0.0
        self._wall_from_checkpoint = False

    def _path(self, runner) -> str:
        return osp.join(runner.work_dir, self.filename)

    def _read(self, runner) -> dict:
        path = self._path(runner)
        if not osp.isfile(path):
            return {}
        with open(path) as f:
            return json.load(f)

    @master_only
    def _update(self, runner, **sections) -> None:
        record = self._read(runner)
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        # the evaluated tasks: auxiliary ones are trained only
        tasks = model.predicted_tasks if hasattr(model, 'predicted_tasks') \
            else getattr(model, 'tasks', {})
        record['tasks'] = {
            name: dict(kind=getattr(task, 'task_kind', 'other'),
                       label_key=getattr(task, 'label_key', None))
            for name, task in tasks.items()}
        record['seed'] = runner.seed
        record.update(sections)
        with open(self._path(runner), 'w') as f:
            json.dump(record, f, indent=1)

    def _wall_so_far(self) -> float:
        return self._wall_before + time.perf_counter() - self._run_start

    def before_train(self, runner) -> None:
        self._run_start = time.perf_counter()
        if runner.iter == 0:  # a fresh run (load_from only loads weights)
            self._wall_before = 0.0
        elif not self._wall_from_checkpoint:
            # resumed from a checkpoint written before the time was stored
            self._wall_before = self._read(runner).get('train', {}).get(
                'wall_s', 0.0)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self._run_start is not None:
            checkpoint.setdefault('meta', {})['train_wall_s'] = round(
                self._wall_so_far(), 3)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        wall = checkpoint.get('meta', {}).get('train_wall_s')
        if wall is not None:
            self._wall_before = float(wall)
            self._wall_from_checkpoint = True

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._iter_start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        self._step_times.append(time.perf_counter() - self._iter_start)

    def after_train(self, runner) -> None:
        wall = self._wall_so_far()
        # a resumed run keeps what earlier segments measured unless this
        # one trained (a run resumed at its last iteration trains nothing)
        train = dict(self._read(runner).get('train', {}),
                     iters=runner.iter, wall_s=round(wall, 3))
        if self._step_times:
            train['step_time_median_s'] = statistics.median(self._step_times)
        self._update(runner, train=train)

    def after_val_epoch(self, runner,
                        metrics: Optional[Dict[str, float]] = None) -> None:
        self._update(runner, val=dict(iter=runner.iter,
                                      metrics=_floats(metrics)))

    def after_test_epoch(self, runner,
                         metrics: Optional[Dict[str, float]] = None) -> None:
        self._update(runner, test=dict(metrics=_floats(metrics)))


def _floats(metrics: Optional[dict]) -> dict:
    return {k: float(v) for k, v in (metrics or {}).items()
            if isinstance(v, (int, float)) or hasattr(v, '__float__')}
