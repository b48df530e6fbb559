"""BalancerMonitor: the log warns, naming the method and the task, when a
task's weight stays near 0 and when clip_grad clips most steps."""
import copy

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.optim import build_optim_wrapper

from mmmtl.engine.optim_wrappers.balancer_monitor import BalancerMonitor
from mtl_fixtures import captured_log, random_batch, tiny_model_cfg


@pytest.fixture
def said(monkeypatch):
    return captured_log(monkeypatch)


def _model_and_wrapper(balancer, **kwargs):
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg())
    model.init_weights()
    return model, build_optim_wrapper(model, dict(
        type='MultiTaskOptimWrapper',
        constructor='MultiTaskOptimWrapperConstructor',
        optimizer=dict(type='SGD', lr=0.0), balancer=balancer, **kwargs))


def test_a_task_at_zero_for_patience_steps_is_named_once(said):
    m = BalancerMonitor('NashMTL', patience=3)
    for _ in range(2):
        m.observe_weights({'det': 1500.0, 'seg': 0.0})
    assert said == []
    for _ in range(5):                           # once, not every step
        m.observe_weights({'det': 1500.0, 'seg': 0.0})
    assert len(said) == 1
    assert 'NashMTL' in said[0] and "'seg'" in said[0] and '3' in said[0]
    m.observe_weights({'det': 1.0, 'seg': 1.0})  # recovers: warns again
    for _ in range(3):
        m.observe_weights({'det': 1.0, 'seg': 0.0})
    assert len(said) == 2


def test_a_weight_below_the_fraction_of_the_largest_counts_as_low(said):
    m = BalancerMonitor('IMTLG', patience=2, min_fraction=0.01)
    for _ in range(3):
        m.observe_weights({'det': 0.02, 'seg': 1.0})     # 2%: fine
    assert said == []
    for _ in range(2):
        m.observe_weights({'det': 0.005, 'seg': 1.0})    # 0.5%: low
    assert len(said) == 1 and "'det'" in said[0]
    # one task present (partial labels): nothing to compare
    for _ in range(5):
        m.observe_weights({'det': 0.0})
    assert len(said) == 1


def test_clipping_most_steps_is_said_once(said):
    m = BalancerMonitor('NashMTL', clip_window=10, clip_fraction=0.5)
    for n in [20.0] * 5 + [1.0] * 5:             # half: not "most"
        m.observe_clip(n, 10.0)
    assert said == []
    for n in [300.0] * 5:                         # 5 of the last 10
        m.observe_clip(n, 10.0)
    assert said == []
    m.observe_clip(300.0, 10.0)                   # 6 of the last 10
    for n in [300.0] * 10:
        m.observe_clip(n, 10.0)
    assert len(said) == 1
    assert 'NashMTL' in said[0] and 'clip_grad' in said[0]
    assert 'max_norm=10' in said[0]


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match='BalancerMonitor'):
        BalancerMonitor('X', patience=0)
    with pytest.raises(TypeError, match='optim_wrapper.monitor'):
        BalancerMonitor.build('X', 'yes')
    assert BalancerMonitor.build('X', False) is None


def test_the_optim_wrapper_feeds_the_monitor(said):
    # static weights (1, 0) starve seg; a tiny max_norm clips every step
    model, wrapper = _model_and_wrapper(
        dict(type='StaticWeighting', weights=[1.0, 0.0]),
        clip_grad=dict(max_norm=1e-8),
        monitor=dict(patience=2, clip_window=2))
    batch = random_batch(2)
    for _ in range(2):
        model.train_step(copy.deepcopy(batch), wrapper)
    warned = [s for s in said if s.startswith('StaticWeighting:')]
    assert len(warned) == 2, said
    assert any("StaticWeighting: task 'seg'" in s for s in warned)
    assert any('StaticWeighting: clip_grad' in s for s in warned)


def test_a_jacobian_aggregators_own_weights_are_logged_and_monitored(said):
    # MoCo with a huge lambda step: every projected step lands on a vertex
    # of the simplex (lambda = (1, 0) or (0, 1)), so on every step one task
    # has weight 0; with patience 1 the monitor names that task each step
    model, wrapper = _model_and_wrapper(
        dict(type='MoCo', gamma=1e9), monitor=dict(patience=1))
    batch = random_batch(2)
    starved = []
    for _ in range(3):
        logs = model.train_step(copy.deepcopy(batch), wrapper)
        lam = {t: float(logs[f'weight.{t}']) for t in ('det', 'seg')}
        assert sorted(lam.values()) == [0.0, 1.0], lam   # MoCo's lambda
        starved.append(min(lam, key=lam.get))
    warned = [s for s in said if s.startswith('MoCo:')]
    assert [s.split("'")[1] for s in warned] == starved, said


def test_gradient_methods_log_each_tasks_gradient_norm():
    model, wrapper = _model_and_wrapper(dict(type='IMTLG'))
    logs = model.train_step(random_batch(2), wrapper)
    for task in ('det', 'seg'):
        assert float(logs[f'grad_norm.{task}']) > 0
    from mmengine.logging import MessageHub
    assert 'train/grad_norm.seg' in MessageHub.get_current_instance(
    ).log_scalars
