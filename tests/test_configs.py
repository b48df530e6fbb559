"""Every shipped config builds its model and optim wrapper as shipped, and
trains: two iterations and a validation, made tiny (see config_fixtures).
The synthetic-data configs run here on the tiny synthetic dataset; the
real-dataset ones on the converters' fixtures
(converters/test_dataset_configs.py)."""
import math

import pytest
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from config_fixtures import (CONFIGS, REAL_DATASET_FOLDERS,
                             SYNTHETIC_FOLDERS, config_path, configs_in,
                             head_num_classes, tiny_config,
                             train_and_validate)
from mtl_fixtures import DET_CLASSES, SEG_CLASSES


def test_every_config_is_trained_on_tiny_data():
    trained = configs_in(SYNTHETIC_FOLDERS + REAL_DATASET_FOLDERS)
    untested = sorted(set(CONFIGS) - set(trained))
    assert not untested, f'no tiny data to train these configs on: {untested}'


@pytest.mark.parametrize('name', CONFIGS)
def test_config_builds_as_shipped(name):
    cfg = Config.fromfile(config_path(name))
    model = MODELS.build(cfg.model)
    assert set(model.task_names) >= {'det', 'seg'}
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert wrapper.shared_params, 'the wrapper must know the shared part'
    assert cfg.model_wrapper_cfg.type == 'MultiTaskDistributedDataParallel'


@pytest.mark.parametrize('name', configs_in(SYNTHETIC_FOLDERS))
def test_synthetic_config_trains(name, tiny_data_root, tmp_path):
    cfg = tiny_config(name, tiny_data_root, tmp_path)
    runner, losses, metrics = train_and_validate(cfg)
    assert all(math.isfinite(v) for v in losses.values()), losses
    tasks = runner.model.tasks
    assert head_num_classes(tasks['det']) == len(DET_CLASSES)
    assert head_num_classes(tasks['seg']) == len(SEG_CLASSES)
    expected = {'coco/bbox_mAP', 'seg/mIoU'}
    roi_head = getattr(tasks['det'], 'roi_head', None)
    if roi_head is not None and roi_head.with_mask:
        expected.add('coco/segm_mAP')
    if 'depth' in tasks:
        expected |= {'depth/abs_rel', 'depth/rmse', 'depth/d1'}
    assert expected <= set(metrics), sorted(metrics)
