"""Training strategies: alternating task steps and staged training."""
import copy
from types import SimpleNamespace

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.optim import build_optim_wrapper

from mmmtl.engine import AlternatingTasksHook, StagedTrainingHook
from mtl_fixtures import random_batch, tiny_model_cfg


def _runner(model, it=0):
    return SimpleNamespace(model=model, iter=it)


def _wrapper(model):
    return build_optim_wrapper(model, dict(
        type='MultiTaskOptimWrapper',
        constructor='MultiTaskOptimWrapperConstructor',
        optimizer=dict(type='SGD', lr=0.1), balancer=dict(
            type='EqualWeighting')))


def test_schedule_alternates_and_only_the_active_head_learns():
    model = MODELS.build(tiny_model_cfg())
    wrapper = _wrapper(model)
    hook = AlternatingTasksHook(schedule=['det', 'seg'])
    hook.before_run(_runner(model))
    for it, trained in [(0, 'det'), (1, 'seg'), (2, 'det')]:
        other = 'seg' if trained == 'det' else 'det'
        before = copy.deepcopy(model.tasks[other].state_dict())
        hook.before_train_iter(_runner(model, it), it)
        logs = model.train_step(random_batch(2, seed=it), wrapper)
        assert f'{trained}.loss' in logs and f'{other}.loss' not in logs
        after = model.tasks[other].state_dict()
        assert all(torch.equal(before[k], after[k]) for k in before)


def test_sampling_is_reproducible_and_follows_probs():
    hook = AlternatingTasksHook(probs=dict(det=3, seg=1), seed=7)
    picks = [hook.tasks_at(i)[0] for i in range(2000)]
    assert picks == [AlternatingTasksHook(probs=dict(det=3, seg=1), seed=7)
                     .tasks_at(i)[0] for i in range(2000)]
    assert 0.70 < picks.count('det') / 2000 < 0.80


def test_unknown_task_is_named():
    model = MODELS.build(tiny_model_cfg())
    with pytest.raises(ValueError, match='depth'):
        AlternatingTasksHook(schedule=['det', 'depth']).before_run(
            _runner(model))
    with pytest.raises(ValueError, match='exactly one'):
        AlternatingTasksHook()


def test_staged_training_freezes_then_unfreezes():
    model = MODELS.build(tiny_model_cfg())
    wrapper = _wrapper(model)
    hook = StagedTrainingHook(stages=[
        dict(begin=0, freeze=['backbone', 'tasks.seg']),
        dict(begin=2, unfreeze=['backbone'])])
    hook.before_train(_runner(model, 0))
    for it in range(3):
        hook.before_train_iter(_runner(model, it), it)
        bb = copy.deepcopy(model.backbone.state_dict())
        seg = copy.deepcopy(model.tasks['seg'].state_dict())
        model.train_step(random_batch(2, seed=it), wrapper)
        bb_moved = any(not torch.equal(v, model.backbone.state_dict()[k])
                       for k, v in bb.items())
        seg_moved = any(not torch.equal(v, model.tasks['seg'].state_dict()[k])
                        for k, v in seg.items())
        assert bb_moved == (it >= 2), it
        assert not seg_moved, it


def test_staged_training_reapplies_on_resume_and_names_bad_modules():
    model = MODELS.build(tiny_model_cfg())
    hook = StagedTrainingHook(stages=[dict(begin=0, freeze=['neck']),
                                      dict(begin=5, freeze=['backbone'])])
    hook.before_train(_runner(model, 7))     # resumed at iteration 7
    assert not any(p.requires_grad for p in model.neck.parameters())
    assert not any(p.requires_grad for p in model.backbone.parameters())
    with pytest.raises(ValueError, match='tasks.depth'):
        StagedTrainingHook(stages=[dict(begin=0, freeze=['tasks.depth'])]) \
            .before_train(_runner(model, 0))


def test_gradient_method_with_the_shared_part_frozen_trains_the_heads():
    """'Heads first' staging with a gradient method: nothing shared to
    balance, so each head gets its own loss's gradient (no crash)."""
    model = MODELS.build(tiny_model_cfg())
    wrapper = build_optim_wrapper(model, dict(
        type='MultiTaskOptimWrapper',
        constructor='MultiTaskOptimWrapperConstructor',
        optimizer=dict(type='SGD', lr=0.1), balancer=dict(type='MGDA')))
    hook = StagedTrainingHook(stages=[dict(begin=0,
                                           freeze=['backbone', 'neck'])])
    hook.before_train(_runner(model, 0))
    hook.before_train_iter(_runner(model, 0), 0)
    shared = copy.deepcopy([m.state_dict() for m in model.shared_modules()])
    heads = copy.deepcopy(model.tasks.state_dict())
    logs = model.train_step(random_batch(2), wrapper)
    assert float(logs['weight.det']) == 1.0
    for before, m in zip(shared, model.shared_modules()):
        assert all(torch.equal(v, m.state_dict()[k])
                   for k, v in before.items())
    assert any(not torch.equal(v, model.tasks.state_dict()[k])
               for k, v in heads.items())
