"""Helpers for the tests of the shipped configs: a config as shipped, made
tiny (narrow model, 64x64 images, batches of 2, tiny data on disk), trained
two iterations and validated once.

What is shrunk is sizes only (depth, channels, image scale, batch), so the
structure under test (tasks, heads, losses, assigners, pipelines, samplers,
evaluators) is the config's own.
"""
import glob
import os.path as osp
from unittest import mock

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mtl_fixtures import REPO

TINY_WIDTH = 32      # divisible by the 32 GroupNorm groups of FCOS/ATSS heads
TINY_IMAGE = (64, 64)
BATCH = 2
_WIDTH_KEYS = {'in_channels', 'feat_channels', 'out_channels', 'channels',
               'conv_out_channels', 'fc_out_channels', 'teacher_channels'}
_STACK_KEYS = {'stacked_convs', 'num_convs'}


def config_path(name: str) -> str:
    return osp.join(REPO, 'configs', name)


#: every shipped config (all but _base_), relative to configs/
CONFIGS = sorted(
    osp.relpath(p, config_path(''))
    for p in glob.glob(config_path('**/*.py'), recursive=True)
    if '_base_' not in p.split(osp.sep))
#: the folders of configs trained on the synthetic data (test_configs.py)
#: and on converted real datasets (converters/test_dataset_configs.py)
SYNTHETIC_FOLDERS = ('synthetic', )
REAL_DATASET_FOLDERS = ('cityscapes', 'bdd100k', 'coco_stuff')


def configs_in(folders) -> list:
    return [c for c in CONFIGS if c.split('/')[0] in folders]


def _narrow(node) -> None:
    """Every channel width in a nested config to TINY_WIDTH, every stack of
    convs to one conv."""
    if isinstance(node, (list, tuple)):
        for item in node:
            _narrow(item)
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in _WIDTH_KEYS and isinstance(value, int):
            node[key] = TINY_WIDTH
        elif key in _WIDTH_KEYS and isinstance(value, (list, tuple)):
            node[key] = [TINY_WIDTH] * len(value)
        elif key in _STACK_KEYS:
            node[key] = 1
        else:
            _narrow(value)


def shrink_model(model: dict) -> None:
    """A ResNet-18 of 8 base channels without pretrained weights, and
    TINY_WIDTH-wide necks and heads."""
    model.backbone.update(depth=18, base_channels=8, stem_channels=8,
                          init_cfg=None)
    _narrow(model.neck)
    model.neck.in_channels = [8, 16, 32, 64]
    _narrow(model.tasks)


def _update_everywhere(node, **values) -> None:
    """Set ``values`` in every dict of a nested config that has the key."""
    if isinstance(node, (list, tuple)):
        for item in node:
            _update_everywhere(item, **values)
    if isinstance(node, dict):
        for key, value in list(node.items()):
            if key in values:
                node[key] = values[key]
            else:
                _update_everywhere(value, **values)


def _loaders(cfg: Config) -> list:
    return [cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader]


def point_at_data(cfg: Config, data_root: str) -> None:
    """Datasets and evaluators read ``data_root`` instead of the config's
    (its synthetic data, if any, already generated there)."""
    for loader in _loaders(cfg):
        _update_everywhere(loader, data_root=data_root, generate=None)
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        for metric in evaluator:   # (val and test may be one list)
            if metric.get('ann_file', '').startswith(cfg.data_root):
                relative = osp.relpath(metric.ann_file, cfg.data_root)
                metric.ann_file = osp.join(data_root, relative)


def shrink_data(cfg: Config, image_size=TINY_IMAGE) -> None:
    """Images of ``image_size`` (random resizes at a fixed ratio), batches
    of 2 (2 per source from several sources), no worker processes.

    A head whose BatchNorm sees one sample of 1x1 features fails: that is
    why the batch holds 2 of each source, and why partly labelled data
    needs images over 64 px (an unlabelled sample leaves one).
    """
    for loader in _loaders(cfg):
        _update_everywhere(loader, scale=image_size, crop_size=image_size,
                           ratio_range=(1.0, 1.0))
        loader.update(batch_size=BATCH, num_workers=0,
                      persistent_workers=False)
        if 'source_ratio' in loader.sampler:    # MultiSourceSampler
            loader.batch_size = BATCH * len(loader.sampler.source_ratio)
            loader.sampler.batch_size = loader.batch_size


def tiny_config(name: str, data_root: str, work_dir,
                image_size=TINY_IMAGE) -> Config:
    """The shipped config ``name`` (under configs/), made tiny: two training
    iterations on ``data_root`` in ``work_dir``."""
    cfg = Config.fromfile(config_path(name))
    shrink_model(cfg.model)
    # every box of a barely trained model reaches the COCO metric
    _update_everywhere(cfg.model.tasks, score_thr=0.0)
    point_at_data(cfg, data_root)
    shrink_data(cfg, image_size)
    cfg.train_cfg.update(max_iters=2, val_interval=1000)
    make_tiny_teachers(cfg, str(work_dir))
    cfg.work_dir = str(work_dir)
    cfg.log_level = 'WARNING'
    # one visualizer per run (mmengine keeps instances by name)
    cfg.visualizer.name = f'config-test-{work_dir}'
    return cfg


def make_tiny_teachers(cfg: Config, folder: str) -> None:
    """Point a distillation config's teachers at tiny ones made in
    ``folder``: each teacher's config made tiny as the student is (so the
    features match), and a checkpoint of its initial weights."""
    from mmdet.registry import MODELS

    from mmmtl.utils.task_selection import select_tasks
    teachers = cfg.model.data_preprocessor.get('teachers') or {}
    for name, spec in teachers.items():
        teacher_cfg = Config.fromfile(spec.config)
        shrink_model(teacher_cfg.model)
        select_tasks(teacher_cfg, [spec.task])
        spec.config = osp.join(folder, f'teacher_{name}.py')
        spec.checkpoint = osp.join(folder, f'teacher_{name}.pth')
        teacher_cfg.dump(spec.config)
        state = MODELS.build(teacher_cfg.model).state_dict()
        torch.save(dict(state_dict=state, meta={}), spec.checkpoint)


def head_num_classes(task) -> int:
    """The number of classes a built task's head predicts."""
    head = task.head if hasattr(task, 'head') else task.roi_head.bbox_head
    return head.num_classes


def train_and_validate(cfg: Config):
    """Train ``cfg``, then validate; returns the runner, each task's last
    training loss and the validation metrics."""
    # mmengine formats the config with yapf for the log, the dumped config
    # and the checkpoint: seconds each with long temporary paths in it
    plain_text = property(lambda self: repr(self.to_dict()))
    # one thread: ops this small gain nothing from two, and lose much on a
    # busy machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with mock.patch.object(Config, 'pretty_text', plain_text):
            runner = Runner.from_cfg(cfg)
            runner.train()
            metrics = runner.val()
    finally:
        torch.set_num_threads(threads)
    hub = runner.message_hub
    losses = {task: float(hub.get_scalar(f'train/{task}.loss').current())
              for task in runner.model.task_names}
    return runner, losses, metrics
