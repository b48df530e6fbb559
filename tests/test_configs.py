"""Every config under configs/ (but _base_) loads, and its model and optim
wrapper build."""
import glob
import os.path as osp

import pytest
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from mtl_fixtures import REPO

CONFIGS = sorted(
    p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                         recursive=True)
    if '_base_' not in p.split(osp.sep))


def test_there_are_configs():
    names = {osp.relpath(p, REPO) for p in CONFIGS}
    assert 'configs/synthetic/retinanet_r18-c32_fpn_semfpn_synthetic.py' \
        in names
    assert len(names) >= 2


@pytest.mark.parametrize('path', CONFIGS,
                         ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_config_builds(path):
    cfg = Config.fromfile(path)
    model = MODELS.build(cfg.model)
    assert set(model.task_names) >= {'det', 'seg'}
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert wrapper.shared_params, 'the wrapper must know the shared part'
    assert cfg.model_wrapper_cfg.type == 'MultiTaskDistributedDataParallel'
