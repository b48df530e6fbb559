"""Config edits shared by the tools."""
import os.path as osp
import sys
from typing import Sequence

from mmengine.config import Config

from .task_selection import drop_auxiliary_metrics, select_tasks, tasks_suffix


def enable_amp(cfg: Config) -> Config:
    """Turn on mixed precision without losing a custom optim wrapper.

    mmdet's ``tools/train.py --amp`` replaces ``optim_wrapper.type`` with
    ``AmpOptimWrapper``, which would silently drop a task-balancing wrapper
    and its balancer. Here a wrapper with built-in AMP (``amp`` argument,
    as :class:`MultiTaskOptimWrapper`) keeps its type and gets ``amp=True``;
    only a plain ``OptimWrapper`` becomes ``AmpOptimWrapper``.
    """
    wrapper = cfg.optim_wrapper
    wtype = wrapper.get('type', 'OptimWrapper')
    if wtype in ('AmpOptimWrapper', 'mmengine.AmpOptimWrapper'):
        return cfg
    if wtype in ('OptimWrapper', 'mmengine.OptimWrapper'):
        wrapper.type = 'AmpOptimWrapper'
        wrapper.setdefault('loss_scale', 'dynamic')
        return cfg
    from mmdet.registry import OPTIM_WRAPPERS
    cls = OPTIM_WRAPPERS.get(wtype)
    if cls is None or 'amp' not in cls.__init__.__code__.co_varnames:
        raise ValueError(
            f'--amp: optim_wrapper.type={wtype!r} has no built-in AMP and is '
            'not OptimWrapper; set mixed precision in its config instead')
    wrapper.amp = True
    return cfg


def load_tool_config(config: str, launcher: str = 'none',
                     cfg_options: dict = None,
                     work_dir: str = None,
                     tasks: Sequence[str] = None) -> Config:
    """Load a config for ``tools/train.py``/``tools/test.py``: check the
    file, apply ``--cfg-options``, keep only ``--tasks`` (see
    :func:`select_tasks`), drop the metrics only auxiliary tasks would
    answer (:func:`drop_auxiliary_metrics`), set the launcher and the work
    dir (``--work-dir``, else the config's, else ``work_dirs/<config
    name>``; with ``--tasks`` and no ``--work-dir`` the tasks are appended:
    ``..._det-only``), and add the :data:`DEFAULT_HOOKS`.
    """
    if not osp.isfile(config):
        sys.exit(f'error: config file not found: {config}')
    cfg = Config.fromfile(config)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    if tasks:
        try:
            select_tasks(cfg, tasks)
        except ValueError as err:
            sys.exit(f'error: {config}: {err}')
    drop_auxiliary_metrics(cfg)
    if work_dir is not None:
        cfg.work_dir = work_dir
    else:
        if cfg.get('work_dir', None) is None:
            cfg.work_dir = osp.join('./work_dirs',
                                    osp.splitext(osp.basename(config))[0])
        if tasks:
            cfg.work_dir = f'{cfg.work_dir.rstrip("/")}_' \
                f'{tasks_suffix(list(cfg.model.tasks))}'
    return add_default_hooks(cfg)


#: Hooks every run of the tools gets, unless its config already has them.
DEFAULT_HOOKS = ('RunMetricsHook', 'RandomStateHook', 'ConfigCheckHook')


def add_default_hooks(cfg: Config) -> Config:
    """Append to ``custom_hooks`` those of :data:`DEFAULT_HOOKS` it lacks:
    :class:`RunMetricsHook` (``<work_dir>/metrics.json``),
    :class:`RandomStateHook` (random states in checkpoints: exact resume)
    and :class:`ConfigCheckHook` (heads' classes against the datasets)."""
    hooks = list(cfg.get('custom_hooks', None) or [])
    present = {h.get('type') for h in hooks}
    cfg.custom_hooks = hooks + [
        dict(type=name) for name in DEFAULT_HOOKS if name not in present]
    return cfg
