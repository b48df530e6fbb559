"""RunMetricsHook's wall time over a run that is killed and resumed."""
import json
from types import SimpleNamespace

import pytest
from torch import nn

from mmmtl.engine.hooks import run_metrics_hook
from mmmtl.engine.hooks.run_metrics_hook import RunMetricsHook


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(run_metrics_hook.time, 'perf_counter', clock)
    return clock


def _runner(tmp_path, it):
    return SimpleNamespace(work_dir=str(tmp_path), iter=it, seed=0,
                           model=nn.Module())


def _train_segment(hook, runner, clock, seconds, checkpoint_at=None):
    """Train ``seconds``; save a checkpoint ``checkpoint_at`` seconds in."""
    hook.before_train(runner)
    checkpoint = None
    if checkpoint_at is not None:
        clock.now += checkpoint_at
        checkpoint = {'meta': {}}
        hook.before_save_checkpoint(runner, checkpoint)
        seconds -= checkpoint_at
    clock.now += seconds
    return checkpoint


def test_a_killed_segment_counts_up_to_its_last_checkpoint(tmp_path, clock):
    # 100 s, checkpoint at 60 s, killed at 100 s (after_train never runs)
    first = RunMetricsHook()
    checkpoint = _train_segment(first, _runner(tmp_path, 0), clock, 100.0,
                                checkpoint_at=60.0)
    assert checkpoint['meta']['train_wall_s'] == 60.0
    # resumed: 30 s more, then the run ends normally
    second = RunMetricsHook()
    runner = _runner(tmp_path, 1000)
    second.after_load_checkpoint(runner, checkpoint)
    _train_segment(second, runner, clock, 30.0)
    second.after_train(runner)
    record = json.loads((tmp_path / 'metrics.json').read_text())
    assert record['train']['wall_s'] == 90.0


def test_weights_loaded_into_a_fresh_run_bring_no_time(tmp_path, clock):
    hook = RunMetricsHook()
    runner = _runner(tmp_path, 0)  # load_from without resume: iteration 0
    hook.after_load_checkpoint(runner, {'meta': {'train_wall_s': 500.0}})
    _train_segment(hook, runner, clock, 20.0)
    hook.after_train(runner)
    record = json.loads((tmp_path / 'metrics.json').read_text())
    assert record['train']['wall_s'] == 20.0
