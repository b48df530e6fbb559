"""End to end: a few iterations train, evaluate both tasks, save and resume."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.runner import Runner

from mtl_fixtures import runner_cfg


class LossRecorder:
    """Collects the logged per-task losses of every iteration."""

    def __init__(self):
        self.history = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.history.append({k: float(v) for k, v in outputs.items()})


def _train(cfg):
    runner = Runner.from_cfg(cfg)
    recorder = LossRecorder()
    from mmengine.hooks import Hook

    class _Hook(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            recorder.after_train_iter(runner, batch_idx, data_batch, outputs)

    runner.register_hook(_Hook(), priority='LOWEST')
    runner.train()
    return runner, recorder.history


def test_train_loss_goes_down_and_both_tasks_are_evaluated(tiny_data_root,
                                                           tmp_path):
    cfg = runner_cfg(tiny_data_root, tmp_path, max_iters=40)
    runner, history = _train(cfg)
    first = sum(h['loss'] for h in history[:5]) / 5
    last = sum(h['loss'] for h in history[-5:]) / 5
    assert last < 0.8 * first, (first, last)
    for task in ('det', 'seg'):
        assert history[-1][f'{task}.loss'] < history[0][f'{task}.loss']
    metrics = runner.val_loop.run()
    assert 'coco/bbox_mAP' in metrics and 'seg/mIoU' in metrics
    assert 0 <= metrics['coco/bbox_mAP'] <= 1
    # 40 iterations of a tiny model already beat chance on segmentation
    # (8 classes: chance mIoU is ~6%)
    assert metrics['seg/mIoU'] > 10
    assert osp.isfile(osp.join(tmp_path, 'iter_40.pth'))


def test_checkpoint_resume_restores_weights_and_optimizer(tiny_data_root,
                                                          tmp_path):
    # train 10 iters (checkpoint at 5 and 10), then resume from iter_5 and
    # train to 10 again: same weights as the uninterrupted run
    cfg = runner_cfg(tiny_data_root, tmp_path / 'a', max_iters=10)
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=False)
    cfg.model.tasks.seg.head.dropout_ratio = 0.0
    runner_a, _ = _train(copy.deepcopy(cfg))
    state_a = runner_a.model.state_dict()

    cfg_b = copy.deepcopy(cfg)
    cfg_b.work_dir = str(tmp_path / 'b')
    cfg_b.resume = True
    cfg_b.load_from = str(tmp_path / 'a' / 'iter_5.pth')
    runner_b, history_b = _train(cfg_b)
    assert runner_b.iter == 10 and len(history_b) == 5
    state_b = runner_b.model.state_dict()
    for key in state_a:
        assert torch.allclose(state_a[key].float(), state_b[key].float(),
                              atol=1e-5), key


def test_checkpoints_load_under_weights_only(tiny_data_root, tmp_path):
    """mmengine's checkpoints hold numpy/HistoryBuffer objects: they load
    with torch's safe loader through mmmtl (no weights_only=False)."""
    from mmengine.runner import CheckpointLoader
    cfg = runner_cfg(tiny_data_root, tmp_path, max_iters=2)
    _train(cfg)
    ckpt = CheckpointLoader.load_checkpoint(str(tmp_path / 'iter_2.pth'))
    assert 'message_hub' in ckpt and 'optimizer' in ckpt
    with pytest.raises(Exception, match='[Ww]eights only load failed'):
        torch.load(str(tmp_path / 'iter_2.pth'), weights_only=True)


@pytest.mark.parametrize('balancer,mode', [
    ('UncertaintyWeighting', 'feature'),     # loss weighting (learned)
    ('UPGrad', 'feature'),                   # Gramian weighting
    ('GradDrop', 'feature'),                 # Jacobian aggregation
    ('PCGrad', 'parameter'),
])
def test_each_balancer_family_trains(tiny_data_root, tmp_path, balancer,
                                     mode):
    cfg = runner_cfg(tiny_data_root, tmp_path, max_iters=20,
                     balancer=balancer, jacobian_mode=mode)
    cfg.default_hooks.checkpoint.interval = 1000
    cfg.train_cfg.val_interval = 1000
    runner, history = _train(cfg)
    first = sum(h['loss'] for h in history[:4]) / 4
    last = sum(h['loss'] for h in history[-4:]) / 4
    assert last < first, (balancer, first, last)
    assert 'weight.det' in history[-1]


@pytest.mark.parametrize('balancer', ['DWA', 'UncertaintyWeighting'])
def test_resume_restores_the_balancer_state(tiny_data_root, tmp_path,
                                            balancer):
    cfg = runner_cfg(tiny_data_root, tmp_path / 'a', max_iters=8,
                     balancer=balancer)
    if balancer == 'DWA':
        cfg.optim_wrapper.balancer.interval = 2
    cfg.default_hooks.checkpoint.interval = 4
    cfg.train_cfg.val_interval = 1000
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=False)
    cfg.model.tasks.seg.head.dropout_ratio = 0.0
    runner_a, _ = _train(copy.deepcopy(cfg))
    state_a = runner_a.optim_wrapper.balancer.state_dict()

    ckpt = torch.load(str(tmp_path / 'a' / 'iter_4.pth'), map_location='cpu',
                      weights_only=False)
    saved = ckpt['optimizer']['balancer']
    assert saved, 'balancer state missing from the checkpoint'

    cfg_b = copy.deepcopy(cfg)
    cfg_b.work_dir = str(tmp_path / 'b')
    cfg_b.resume = True
    cfg_b.load_from = str(tmp_path / 'a' / 'iter_4.pth')
    runner_b, _ = _train(cfg_b)
    state_b = runner_b.optim_wrapper.balancer.state_dict()
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        torch.testing.assert_close(state_b[key].float(),
                                   state_a[key].float(), rtol=1e-4,
                                   atol=1e-5, msg=key)
    if balancer == 'DWA':
        assert int(state_a['periods']) == 4     # history really moved
    else:
        assert state_a['log_vars'].abs().sum() > 0
