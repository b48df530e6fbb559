"""Single-task teachers: built from an mmmtl config and checkpoint, frozen."""
import os.path as osp

from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from torch import nn

TEACHER_KEYS = ('config', 'checkpoint', 'task', 'logits')


def check_teacher_spec(name: str, spec: dict) -> dict:
    """``spec`` with its defaults, or an error naming what is wrong."""
    unknown = set(spec) - set(TEACHER_KEYS)
    missing = {'config', 'checkpoint', 'task'} - set(spec)
    if unknown or missing:
        raise ValueError(
            f'teachers.{name}: needs config, checkpoint and task (may have '
            f'logits); missing {sorted(missing)}, unknown {sorted(unknown)}')
    return dict(spec, logits=bool(spec.get('logits', False)))


def load_teacher(name: str, spec: dict) -> nn.Module:
    """The teacher model of ``spec``: the config's model with only the task
    ``spec['task']`` (as ``tools/train.py --tasks`` trains a single-task
    baseline), its checkpoint loaded (strictly), in eval mode and without
    gradients."""
    from mmmtl.utils.task_selection import select_tasks
    config, checkpoint, task = spec['config'], spec['checkpoint'], spec['task']
    if not osp.isfile(config):
        raise FileNotFoundError(f'teachers.{name}: config {config} not found')
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'teachers.{name}: checkpoint {checkpoint} not found; train the '
            f'single-task teacher first: python tools/train.py {config} '
            f'--tasks {task}')
    cfg = Config.fromfile(config)
    select_tasks(cfg, [task])
    teacher = MODELS.build(cfg.model)
    load_checkpoint(teacher, checkpoint, map_location='cpu', strict=True,
                    logger='silent')
    teacher.eval()
    teacher.requires_grad_(False)
    return teacher
