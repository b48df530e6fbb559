"""The model against the data and the balancer, before a run starts."""
from typing import Optional, Sequence

from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmmtl.utils.task_selection import PER_TASK_BALANCER_OPTIONS

#: the dataset metainfo key holding a task kind's class list
CLASS_LISTS = dict(detection=('classes', 'detection'),
                   segmentation=('seg_classes', 'segmentation'))


def _num_classes(name: str, task) -> tuple:
    """(config key, num_classes) of a task's classifying head, if any."""
    for path in ('head', 'roi_head.bbox_head'):
        module = task
        for attr in path.split('.'):
            module = getattr(module, attr, None)
        if isinstance(getattr(module, 'num_classes', None), int):
            return f'model.tasks.{name}.{path}.num_classes', module.num_classes
    return None, None


def check_classes(model, metainfo: Optional[dict], where: str) -> None:
    """Each task's ``num_classes`` against the dataset's class list of its
    kind (``classes`` for detection, ``seg_classes`` for segmentation)."""
    for name, task in model.tasks.items():
        meta_key, kind = CLASS_LISTS.get(task.task_kind, (None, None))
        classes = (metainfo or {}).get(meta_key) if meta_key else None
        key, num = _num_classes(name, task)
        if classes is None or num is None or num == len(classes):
            continue
        raise ValueError(
            f'{key}={num} but the dataset of {where} has {len(classes)} '
            f"{kind} classes (metainfo['{meta_key}']: {list(classes)[:12]})")


def check_balancer(balancer: Optional[dict],
                   task_names: Sequence[str]) -> None:
    """The balancer's per-task options have one entry per task."""
    for option in PER_TASK_BALANCER_OPTIONS:
        value = (balancer or {}).get(option)
        if isinstance(value, (list, tuple)) and \
                len(value) != len(task_names):
            raise ValueError(
                f'optim_wrapper.balancer.{option} has {len(value)} entries '
                f'but the model has {len(task_names)} tasks '
                f'({list(task_names)}; one entry per task, in model.tasks '
                f'order)')
    num_tasks = (balancer or {}).get('num_tasks')
    if num_tasks is not None and num_tasks != len(task_names):
        raise ValueError(
            f'optim_wrapper.balancer.num_tasks={num_tasks} but the model has '
            f'{len(task_names)} tasks ({list(task_names)})')


@HOOKS.register_module()
class ConfigCheckHook(Hook):
    """Before training, validation and testing: each head's
    ``num_classes`` against the class lists of the datasets about to be
    used, and the balancer's per-task options against the model's tasks;
    errors name the config key and both numbers. (The heads' inputs are
    checked by the model itself, see :mod:`mmmtl.models.config_checks`.)
    ``tools/train.py`` and ``tools/test.py`` add it to every run.
    """

    priority = 'VERY_HIGH'

    @staticmethod
    def _check_loop(runner, phase: str) -> None:
        loop = getattr(runner, f'_{phase}_loop', None)
        dataloader = getattr(loop, 'dataloader', None)
        if dataloader is None:
            return
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        if hasattr(model, 'tasks'):
            check_classes(model,
                          getattr(dataloader.dataset, 'metainfo', None),
                          f'{phase}_dataloader')

    def before_train(self, runner) -> None:
        self._check_loop(runner, 'train')
        self._check_loop(runner, 'val')
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        wrapper = (getattr(runner, 'cfg', None) or {}).get('optim_wrapper')
        if hasattr(model, 'task_names') and wrapper:
            check_balancer(wrapper.get('balancer'), model.task_names)

    def before_val(self, runner) -> None:
        self._check_loop(runner, 'val')

    def before_test(self, runner) -> None:
        self._check_loop(runner, 'test')
