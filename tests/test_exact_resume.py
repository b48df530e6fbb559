"""Exact resume: stop at iteration 2, resume, and the weights are bitwise
those of the uninterrupted run (dropout, BatchNorm statistics, balancer
state, data-loader workers, alternating tasks)."""
import random

import numpy as np
import pytest
import torch
from mmengine.runner import Runner

from mmmtl.engine.hooks import RandomStateHook
from mmmtl.utils.config import add_default_hooks
from mtl_fixtures import runner_cfg

MAX_ITERS, RESUME_AT = 4, 2


def _cfg(root, work_dir, balancer, workers=0, hooks=()):
    cfg = runner_cfg(root, work_dir, max_iters=MAX_ITERS, balancer=balancer)
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.num_workers = workers
    cfg.train_dataloader.persistent_workers = workers > 0
    cfg.default_hooks.checkpoint.interval = RESUME_AT
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    seg = cfg.model.tasks.seg.head
    seg.dropout_ratio = 0.1            # masks drawn from torch's generator
    seg.norm_cfg = dict(type='BN', requires_grad=True)  # running statistics
    cfg.custom_hooks = list(hooks)
    return add_default_hooks(cfg)      # as tools/train.py does


def _train(cfg):
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner.model.state_dict()


@pytest.mark.parametrize('balancer,workers,hooks', [
    ('EqualWeighting', 0, ()),
    ('UncertaintyWeighting', 0, ()),      # the case
    ('GradVac', 2, ()),                   # data-loader workers
    ('FAMO', 0, ()),
    ('NashMTL', 0, ()),
    ('DWA', 0, (dict(type='AlternatingTasksHook',
                     probs=dict(det=0.5, seg=0.5)),)),
])
def test_resumed_run_is_bitwise_the_uninterrupted_one(tiny_data_root,
                                                      tmp_path, balancer,
                                                      workers, hooks):
    full = _train(_cfg(tiny_data_root, tmp_path / 'a', balancer, workers,
                       hooks))
    cfg = _cfg(tiny_data_root, tmp_path / 'b', balancer, workers, hooks)
    cfg.resume = True
    cfg.load_from = str(tmp_path / 'a' / f'iter_{RESUME_AT}.pth')
    resumed = _train(cfg)
    assert full.keys() == resumed.keys()
    differ = [k for k in full if not torch.equal(full[k], resumed[k])]
    assert not differ, differ


def _seed_all(seed):
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def test_validation_leaves_the_random_stream_as_it_was():
    hook = RandomStateHook()
    _seed_all(1)
    expected = (torch.rand(3), np.random.rand(), random.random())
    _seed_all(1)
    hook.before_val(None)
    torch.rand(5), np.random.rand(), random.random()   # val draws
    hook.after_val(None)
    got = (torch.rand(3), np.random.rand(), random.random())
    assert torch.equal(expected[0], got[0]) and expected[1:] == got[1:]
