"""Train or test a config with a subset of its tasks (``--tasks``).

``select_tasks(cfg, ['det'])`` turns the config of a multi-task model into
the single-task baseline of the same model: the same backbone, neck, head,
data, schedule and seed, with only the named tasks left in ``model.tasks``,
only their metrics left in the evaluators, and the task-indexed options of
the balancer and hooks cut down to them. A model with one task has nothing
to balance, so its balancer becomes ``EqualWeighting`` (plain training).

``drop_auxiliary_metrics(cfg)`` leaves out of the evaluators the metrics
that only auxiliary tasks (trained, never predicted) would answer.
"""
import inspect
from typing import Callable, List, Optional, Sequence, Tuple

from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

#: balancer options that hold one entry per task, in ``model.tasks`` order
PER_TASK_BALANCER_OPTIONS = ('weights', 'pref_vector', 'leak')

TaskKey = Tuple[str, Optional[str]]


def task_class(task_cfg: dict) -> type:
    """The registered class of a task config."""
    from mmdet.registry import MODELS
    cls = MODELS.get(task_cfg['type'])
    if cls is None:
        raise KeyError(f"task type {task_cfg['type']!r} is not registered")
    return cls


def task_option(task_cfg: dict, name: str):
    """An argument of a task config: its value there, else the default of
    its class (None if the class has no such argument)."""
    if name in task_cfg:
        return task_cfg[name]
    param = inspect.signature(task_class(task_cfg)).parameters.get(name)
    return None if param is None else param.default


def task_key(task_cfg: dict) -> TaskKey:
    """(task kind, label key) of a task config: what its metrics look at."""
    kind = getattr(task_class(task_cfg), 'task_kind', 'other')
    label_key = task_option(task_cfg, 'label_key') \
        if kind == 'classification' else None
    return kind, label_key


def metric_key(metric_cfg: dict) -> TaskKey:
    """(task kind, label key) that an evaluator metric evaluates."""
    from mmdet.evaluation import CocoMetric, OpenImagesMetric, VOCMetric
    from mmdet.registry import METRICS
    from mmseg.evaluation import DepthMetric, IoUMetric

    from mmmtl.evaluation import ImageClassificationMetric
    cls = METRICS.get(metric_cfg['type'])
    if cls is not None and issubclass(
            cls, (CocoMetric, VOCMetric, OpenImagesMetric)):
        return 'detection', None
    if cls is not None and issubclass(cls, IoUMetric):
        return 'segmentation', None
    if cls is not None and issubclass(cls, DepthMetric):
        return 'depth', None
    if cls is not None and issubclass(cls, ImageClassificationMetric):
        return 'classification', metric_cfg.get('label_key', 'image_label')
    raise ValueError(
        f"--tasks: cannot tell which task the evaluator metric "
        f"{metric_cfg['type']!r} evaluates (known: detection metrics of "
        "mmdet, mmseg's IoUMetric and subclasses, ImageClassificationMetric)"
        ", DepthMetric and subclasses"
        "; remove it from the evaluator for this run with --cfg-options")


def _filter_evaluator(evaluator, keep: Callable[[dict], bool]):
    """The evaluator config with only the metrics ``keep`` says yes to."""
    if isinstance(evaluator, dict) and 'metrics' in evaluator:
        return dict(evaluator,
                    metrics=_filter_evaluator(evaluator['metrics'], keep))
    metrics = evaluator if isinstance(evaluator, (list, tuple)) \
        else [evaluator]
    return [m for m in metrics if keep(m)]


def _filter_hooks(hooks: Sequence[dict], tasks: List[str]) -> List[dict]:
    """Custom hooks with the dropped tasks removed from what they name."""
    out = []
    for hook in hooks:
        hook = dict(hook)
        if hook.get('type') == 'AlternatingTasksHook':
            if len(tasks) == 1:
                continue  # one task: every step trains it
            if hook.get('schedule') is not None:
                entries = [[t for t in ([s] if isinstance(s, str) else s)
                            if t in tasks] for s in hook['schedule']]
                hook['schedule'] = [e for e in entries if e]
            if hook.get('probs') is not None:
                hook['probs'] = {t: p for t, p in hook['probs'].items()
                                 if t in tasks}
        elif hook.get('type') == 'StagedTrainingHook':
            hook['stages'] = [
                {k: ([m for m in v if _module_kept(m, tasks)]
                     if k in ('freeze', 'unfreeze') else v)
                 for k, v in stage.items()} for stage in hook['stages']]
        out.append(hook)
    return out


def _module_kept(module_name: str, tasks: List[str]) -> bool:
    parts = module_name.split('.')
    return parts[0] != 'tasks' or len(parts) < 2 or parts[1] in tasks


def _select_balancer(cfg: Config, positions: List[int]) -> None:
    wrapper = cfg.get('optim_wrapper', {})
    if 'balancer' not in wrapper:
        return
    if len(positions) == 1:
        wrapper['balancer'] = ConfigDict(type='EqualWeighting')
        return
    balancer = wrapper['balancer']
    for option in PER_TASK_BALANCER_OPTIONS:
        value = balancer.get(option)
        if isinstance(value, (list, tuple)):
            balancer[option] = [value[i] for i in positions]


def _model_for_tasks(model_cfg: dict, kept: List[str]) -> dict:
    from mmdet.registry import MODELS

    from mmmtl.models import MultiTaskDetector
    cls = MODELS.get(model_cfg['type'])
    if cls is not None and issubclass(cls, MultiTaskDetector):
        return cls.config_for_tasks(model_cfg, kept)
    return dict(model_cfg, tasks={t: model_cfg['tasks'][t] for t in kept})


def select_tasks(cfg: Config, tasks: Sequence[str]) -> Config:
    """Keep only ``tasks`` of ``cfg.model.tasks`` (in the config's order).

    Raises:
        ValueError: a name is not a task of ``model.tasks``.
    """
    available = list(cfg.model.tasks)
    unknown = [t for t in tasks if t not in available]
    if unknown or not tasks:
        raise ValueError(
            f'--tasks {" ".join(tasks)}: {unknown or "no task"} not among '
            f'the tasks of the config (model.tasks: {available})')
    kept = [t for t in available if t in tasks]
    if all(is_auxiliary(cfg.model.tasks[t]) for t in kept):
        raise ValueError(
            f'--tasks {" ".join(tasks)}: only auxiliary tasks, which are '
            'trained to help others and never predicted or evaluated; '
            'name a predicted task too')
    keys = [task_key(cfg.model.tasks[t]) for t in kept]
    cfg.model = ConfigDict(_model_for_tasks(cfg.model, kept))
    for name in ('val_evaluator', 'test_evaluator'):
        if cfg.get(name) is not None:
            cfg[name] = _filter_evaluator(
                cfg[name], lambda m: metric_key(m) in keys)
    _select_balancer(cfg, [available.index(t) for t in kept])
    if cfg.get('custom_hooks'):
        cfg.custom_hooks = _filter_hooks(cfg.custom_hooks, kept)
    print_log(f'--tasks: training/testing tasks {kept} of {available}',
              logger='current')
    return cfg


def is_auxiliary(task_cfg: dict) -> bool:
    """Whether a task config makes an auxiliary task (its ``auxiliary``,
    else its class's default)."""
    return bool(task_option(task_cfg, 'auxiliary'))


def drop_auxiliary_metrics(cfg: Config) -> Config:
    """Leave out of the evaluators the metrics that only auxiliary tasks
    would answer (an auxiliary task is trained, never predicted): those of
    a (kind, label key) that no other task of ``model.tasks`` has. Metrics
    of other kinds are kept."""
    tasks = cfg.model.get('tasks') or {}
    auxiliary = {task_key(t) for t in tasks.values() if is_auxiliary(t)}
    auxiliary -= {task_key(t) for t in tasks.values() if not is_auxiliary(t)}
    if not auxiliary:
        return cfg

    def keep(metric_cfg: dict) -> bool:
        try:
            return metric_key(metric_cfg) not in auxiliary
        except ValueError:  # a metric of some other kind
            return True

    for name in ('val_evaluator', 'test_evaluator'):
        if cfg.get(name) is not None:
            cfg[name] = _filter_evaluator(cfg[name], keep)
    return cfg


def tasks_suffix(tasks: Sequence[str]) -> str:
    """Work-dir suffix naming the tasks of a run: ``'det-only'``,
    ``'det-seg'``."""
    return '-'.join(tasks) + ('-only' if len(tasks) == 1 else '')
