"""Short training runs in feature mode, one per kind of balancer, with the
losses scaled so that the feature Gramian is as small as the demo's (task
gradient norms about 1e-4 to 1e-3): no task's weight is 0, or far below the
other's, at any step, and Nash-MTL's weights solve its condition on the
logged Gramian."""
import pytest
from mmengine.hooks import Hook
from mmengine.logging import MessageHub
from mmengine.runner import Runner

from mtl_fixtures import runner_cfg

TASKS = ('det', 'seg')


class _Recorder(Hook):
    """Weights, gradient norms and cosines of every iteration."""

    priority = 'LOWEST'

    def __init__(self):
        self.rows = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        hub = MessageHub.get_current_instance()
        self.rows.append({k[len('train/'):]: float(v.current())
                          for k, v in hub.log_scalars.items()
                          if k.startswith(('train/weight.',
                                           'train/grad_norm.',
                                           'train/cos.'))})


def _train(root, work_dir, balancer, loss_scale=0.01, iters=6):
    cfg = runner_cfg(root, work_dir, max_iters=iters, jacobian_mode='feature')
    cfg.optim_wrapper.balancer = balancer
    cfg.default_hooks.checkpoint.interval = 1000
    cfg.train_cfg.val_interval = 1000
    tasks = cfg.model.tasks
    for loss in (tasks.det.head.loss_cls, tasks.det.head.loss_bbox,
                 tasks.seg.head.loss_decode):
        loss.loss_weight = loss_scale
    runner = Runner.from_cfg(cfg)
    recorder = _Recorder()
    runner.register_hook(recorder, priority='LOWEST')
    runner.train()
    return recorder.rows


@pytest.mark.parametrize('balancer', [
    dict(type='UncertaintyWeighting'),       # loss weighting
    dict(type='NashMTL'),                    # Gramian weighting
    dict(type='GradNorm'),                   # Gramian weighting, heads too
    dict(type='GradDrop'),                   # Jacobian aggregation
], ids=lambda b: b['type'])
def test_no_task_is_starved_in_feature_mode(tiny_data_root, tmp_path,
                                            balancer):
    rows = _train(tiny_data_root, tmp_path, balancer)
    assert len(rows) == 6
    for step, row in enumerate(rows):
        w = [row[f'weight.{t}'] for t in TASKS]
        assert min(w) > 0.01 * max(w), (step, row)
        if balancer['type'] != 'NashMTL':
            continue
        # the gradients are tiny ...
        norms = [row[f'grad_norm.{t}'] for t in TASKS]
        assert max(norms) < 1e-2, row
        # ... yet the weights sum to T and solve G a = c / a: every task's
        # weight times its improvement (G a)_t is the same
        assert sum(w) == pytest.approx(2.0, rel=1e-4)
        cross = row['cos.det-seg'] * norms[0] * norms[1]
        gain = [w[0] * (w[0] * norms[0]**2 + w[1] * cross),
                w[1] * (w[1] * norms[1]**2 + w[0] * cross)]
        assert gain[0] == pytest.approx(gain[1], rel=1e-2), (step, row)
