"""Multi-task gain: delta-m of a multi-task run against single-task runs.

Maninis et al. 2019 ("Attentive single-tasking of multiple tasks"),
Vandenhende et al. 2021 (MTL survey, eq. 4):

    delta_m = 1/T * sum_t (-1)^l_t * (M_mt,t - M_st,t) / M_st,t

with l_t = 1 when lower is better for task t's metric (depth errors,
losses), 0 otherwise. A positive delta-m: the multi-task model is better
on average than its single-task baselines.

A *run* is the record ``tools/train.py`` / ``tools/test.py`` write to
``<work_dir>/metrics.json`` (see :class:`RunMetricsHook`). With several runs
per setting (seeds), each metric is averaged over the baseline's seeds and
delta-m is computed for every multi-task run against those means; its mean
and sample standard deviation are reported.
"""
import glob
import json
import os.path as osp
import statistics
from typing import Dict, List, Optional, Sequence

#: a task's metric by default, by task kind
DEFAULT_PRIMARY_METRICS = {
    'detection': 'coco/bbox_mAP',
    'segmentation': 'seg/mIoU',
    'classification': 'cls/accuracy',
    'depth': 'depth/abs_rel',
}
#: metric names containing one of these are lower-is-better
LOWER_IS_BETTER_WORDS = ('loss', 'abs_rel', 'sq_rel', 'rmse', 'mae',
                         'error', 'silog', 'log10')


def lower_is_better(metric: str) -> bool:
    name = metric.rsplit('/', 1)[-1].lower()
    return any(word in name for word in LOWER_IS_BETTER_WORDS)


def load_run(path: str) -> dict:
    """A run's record, from its work dir or its ``metrics.json``."""
    file = osp.join(path, 'metrics.json') if osp.isdir(path) else path
    if not osp.isfile(file):
        raise FileNotFoundError(
            f'{path}: no metrics.json (is it a work dir of tools/train.py '
            'or tools/test.py, finished with an evaluation?)')
    with open(file) as f:
        record = json.load(f)
    record['metrics'] = run_metrics(record, file)
    record['path'] = file
    return record


def run_metrics(record: dict, file: str = '<record>') -> Dict[str, float]:
    """The run's metrics: its last test if it has one, else its last
    validation."""
    for section in ('test', 'val'):
        metrics = record.get(section, {}).get('metrics')
        if metrics:
            return metrics
    raise ValueError(f'{file}: the run has no test or validation metrics')


def expand_runs(arg: str) -> List[str]:
    """One setting's runs: paths, glob patterns, separated by commas."""
    paths = []
    for piece in filter(None, arg.split(',')):
        matches = sorted(glob.glob(piece))
        if not matches:
            raise FileNotFoundError(f'no run matches {piece!r}')
        paths += matches
    return paths


def primary_metric(record: dict, task: str,
                   overrides: Optional[Dict[str, str]] = None) -> str:
    if overrides and task in overrides:
        return overrides[task]
    kind = record['tasks'][task]['kind']
    if kind not in DEFAULT_PRIMARY_METRICS:
        raise ValueError(
            f'{record["path"]}: task {task!r} of kind {kind!r} has no default'
            f' metric; name one with --metric {task}=KEY')
    return DEFAULT_PRIMARY_METRICS[kind]


def _value(record: dict, metric: str) -> float:
    if metric not in record['metrics']:
        raise KeyError(f'{record["path"]}: no metric {metric!r} (has '
                       f'{sorted(record["metrics"])})')
    return record['metrics'][metric]


def mean_std(values: Sequence[float]) -> tuple:
    """Mean and sample standard deviation (0 for a single value)."""
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.fmean(values), std


def relative_change(mt: float, st: float, lower: bool) -> float:
    """(-1)^l (M_mt - M_st) / M_st."""
    if st == 0:
        raise ZeroDivisionError('baseline metric is 0: relative change '
                                'undefined')
    return (-1 if lower else 1) * (mt - st) / st


def _baseline_of(task: str, baselines: List[List[dict]]) -> List[dict]:
    for runs in baselines:
        if task in runs[0]['tasks']:
            return runs
    raise ValueError(f'no baseline run has the task {task!r} (baseline '
                     f'tasks: {[list(r[0]["tasks"]) for r in baselines]})')


def compare(multi: List[dict], baselines: List[List[dict]],
            metrics: Optional[Dict[str, str]] = None,
            lower: Sequence[str] = ()) -> dict:
    """Per task: metric, mean/std in the multi-task and the baseline runs,
    relative change of the means; and delta-m (mean, std over the
    multi-task runs, as fractions).

    Args:
        multi: the multi-task setting's runs (one per seed).
        baselines: one list of runs per baseline setting; each task of the
            multi-task run is matched with the setting that has it.
        metrics: task -> metric, overriding the default per task kind.
        lower: metric names that are lower-is-better beyond the defaults.
    """
    tasks, per_run = [], [[] for _ in multi]
    for task in multi[0]['tasks']:
        metric = primary_metric(multi[0], task, metrics)
        low = metric in lower or lower_is_better(metric)
        base = _baseline_of(task, baselines)
        st = mean_std([_value(r, metric) for r in base])
        mt_values = [_value(r, metric) for r in multi]
        for i, value in enumerate(mt_values):
            per_run[i].append(relative_change(value, st[0], low))
        tasks.append(dict(
            task=task, metric=metric, lower_is_better=low,
            multi=mean_std(mt_values), baseline=st, runs=(len(multi),
                                                          len(base)),
            change=relative_change(mean_std(mt_values)[0], st[0], low)))
    deltas = [statistics.fmean(changes) for changes in per_run]
    return dict(tasks=tasks, delta_m=mean_std(deltas), delta_m_runs=deltas)
