"""Each balancer added from torchjd 0.18 and LibMTL's list trains a few
iterations through the optim wrapper: finite losses, positive weights
logged for both tasks, and what the method learns (IMTL-L's scales, MoDo's
and CR-MOGM's weights) moved."""
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mtl_fixtures import runner_cfg


class _Losses(Hook):
    priority = 'LOWEST'

    def __init__(self):
        self.rows = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.rows.append({k: float(v) for k, v in outputs.items()})


def _train(root, work_dir, balancer, iters=2):
    cfg = runner_cfg(root, work_dir, max_iters=iters, balancer=balancer)
    cfg.default_hooks.checkpoint.interval = 1000
    cfg.train_cfg.val_interval = 1000
    runner = Runner.from_cfg(cfg)
    losses = _Losses()
    runner.register_hook(losses, priority='LOWEST')
    runner.train()
    return runner.optim_wrapper.balancer, losses.rows


@pytest.mark.parametrize('balancer', [
    'STCH', 'IMTLL', 'SDMGrad', 'MoDo', 'CRMOGM', 'ExcessMTL', 'MoCo'])
def test_new_balancer_trains_through_the_wrapper(tiny_data_root, tmp_path,
                                                 balancer):
    bal, rows = _train(tiny_data_root, tmp_path, balancer)
    assert len(rows) == 2
    for row in rows:
        assert all(torch.isfinite(torch.tensor(v)) for v in row.values())
        assert row['weight.det'] > 0 and row['weight.seg'] > 0, row
    if balancer == 'IMTLL':
        # the scales were trained by the model's optimizer
        assert bal.scalarizer.log_scale.abs().min() > 0
    if balancer in ('SDMGrad', 'MoDo', 'CRMOGM'):
        # convex combinations of the task gradients
        for row in rows:
            assert row['weight.det'] + row['weight.seg'] == pytest.approx(1)
    if balancer in ('MoDo', 'CRMOGM'):
        weights = [(r['weight.det'], r['weight.seg']) for r in rows]
        assert len(set(weights)) > 1          # moved from 1/T
