"""What a few training iterations log: the balancer's scalars reach
TensorBoard's event files (mmengine's TensorboardVisBackend, the
``tensorboard`` extra) with the values of scalars.json, and the plot tool's
default panels find them."""
import glob
import os.path as osp

import pytest
from mmengine.runner import Runner

from mtl_fixtures import runner_cfg
from test_analyze_logs import tool

MAX_ITERS = 4


@pytest.fixture(scope='module')
def work_dir(tiny_data_root, tmp_path_factory):
    """A 4-iteration MGDA run (logged every 2 iterations, evaluated at the
    end) with the local and the TensorBoard backend."""
    work_dir = str(tmp_path_factory.mktemp('logged_run'))
    cfg = runner_cfg(tiny_data_root, work_dir, max_iters=MAX_ITERS,
                     balancer='MGDA')
    cfg.default_hooks.logger.interval = 2
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend'),
                                   dict(type='TensorboardVisBackend')]
    runner = Runner.from_cfg(cfg)
    runner.train()
    runner.visualizer.close()  # flush the event file
    return work_dir


def _tensorboard_scalars(work_dir):
    """tag -> [(step, value)] from the run's event files."""
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    (events_dir,) = {osp.dirname(p) for p in glob.glob(
        osp.join(work_dir, '*', 'vis_data', 'events.out.tfevents.*'))}
    accumulator = EventAccumulator(events_dir)
    accumulator.Reload()
    return {tag: [(e.step, e.value) for e in accumulator.Scalars(tag)]
            for tag in accumulator.Tags()['scalars']}


def test_balancer_scalars_reach_tensorboard(work_dir):
    board = _tensorboard_scalars(work_dir)
    local = tool.load_run(work_dir)
    balancer_keys = ['weight.det', 'weight.seg', 'cos.det-seg', 'det.loss',
                     'seg.loss', 'loss']
    for key in balancer_keys + ['coco/bbox_mAP', 'seg/mIoU']:
        assert key in board, (key, sorted(board))
    for key in balancer_keys:
        steps, values = local[key]
        assert [s for s, _ in board[key]] == steps == [2, 4], key
        assert [v for _, v in board[key]] == pytest.approx(values,
                                                           rel=1e-6), key
    # MGDA's weights are a convex combination
    weights = [v for _, v in board['weight.det']]
    assert all(0 <= w <= 1 for w in weights)


def test_plot_tool_default_panels_on_a_real_run(work_dir, tmp_path):
    panels = tool.collect_curves(tool.load_runs([work_dir]))
    keys = {p.title: sorted(c.key for c in p.curves) for p in panels}
    # per-task gradient norms, where the optim wrapper logs them
    assert keys.pop('gradient norms', ['grad_norm.det', 'grad_norm.seg']) \
        == ['grad_norm.det', 'grad_norm.seg']
    assert keys == {'task losses': ['det.loss', 'seg.loss'],
                    'task weights': ['weight.det', 'weight.seg'],
                    'gradient cosines': ['cos.det-seg'],
                    'coco/bbox_mAP': ['coco/bbox_mAP'],
                    'seg/mIoU': ['seg/mIoU']}
    # the metrics of the final validation sit at the last iteration
    for title in ('coco/bbox_mAP', 'seg/mIoU'):
        (curve,) = next(p.curves for p in panels if p.title == title)
        assert curve.steps == [MAX_ITERS]
    out = str(tmp_path / 'curves.png')
    tool.main(['plot_curve', work_dir, '--out', out])
    assert osp.getsize(out) > 10_000
