"""Gradient reversal (DANN) and the source-discriminator task."""
import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmengine.structures import BaseDataElement

from mmmtl.engine.hooks import GradientReversalScheduleHook
from mmmtl.models.layers import (GradientReversal, dann_lambda,
                                 reverse_gradient)
from mtl_fixtures import balancing_wrapper, random_batch, tiny_model_cfg


def test_reversal_is_identity_forward_and_minus_lambda_backward():
    x = torch.tensor([1., -2., 3.], requires_grad=True)
    y = reverse_gradient(x, 0.5)
    assert torch.equal(y, x)
    (y * torch.tensor([2., 3., 4.])).sum().backward()
    # d/dx of 2x0 + 3x1 + 4x2 is (2, 3, 4); reversed and halved:
    assert x.grad.tolist() == [-1.0, -1.5, -2.0]


def test_dann_schedule_by_hand():
    # 2 / (1 + exp(-10 p)) - 1
    assert dann_lambda(0.0) == 0.0
    assert dann_lambda(0.1) == pytest.approx(0.462117, abs=1e-6)
    assert dann_lambda(0.25) == pytest.approx(0.848284, abs=1e-6)
    assert dann_lambda(0.5) == pytest.approx(0.986614, abs=1e-6)
    assert dann_lambda(1.0) == pytest.approx(0.999909, abs=1e-6)
    with pytest.raises(ValueError, match='outside'):
        dann_lambda(1.5)


def test_hook_sets_the_schedule_from_the_iteration():
    model = torch.nn.Sequential(
        GradientReversal(max_lambda=2.0, schedule='dann'),
        GradientReversal(max_lambda=0.3, schedule='constant'))
    x = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match='GradientReversalScheduleHook'):
        model(x)
    hook = GradientReversalScheduleHook()
    for it, want in [(0, 0.0), (250, 0.848284), (500, 0.986614)]:
        hook.before_train_iter(
            SimpleNamespace(iter=it, max_iters=1000, model=model), it)
        assert model[0].lambda_ == pytest.approx(2.0 * want, abs=1e-5)
        assert model[1].lambda_ == 0.3
    x.grad = None
    model(x).sum().backward()
    # both layers reverse: (-0.3) * (-2 * 0.986614)
    assert x.grad.tolist() == pytest.approx([0.3 * 2 * 0.986614] * 2,
                                            abs=1e-5)


def discriminator(**kwargs):
    cfg = dict(type='DomainDiscriminatorTask', in_channels=4,
               hidden_channels=(8, ), grl=dict(schedule='constant',
                                               max_lambda=0.5))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def source_samples(sources):
    return [BaseDataElement(metainfo=dict(source=s)) for s in sources]


def test_discriminator_gradient_on_features_is_reversed():
    torch.manual_seed(0)
    task = discriminator()
    feats = torch.randn(4, 4, 3, 3, requires_grad=True)
    labels = torch.tensor([0, 1, 0, 1])
    loss = task.loss((feats, ), source_samples(labels.tolist()))['loss_cls']
    (got, ) = torch.autograd.grad(loss, feats)
    # the same discriminator without reversal
    plain = F.cross_entropy(task.fc(task.mlp(feats.mean(dim=(2, 3)))),
                            labels)
    (want, ) = torch.autograd.grad(plain, feats)
    torch.testing.assert_close(got, -0.5 * want)


def test_discriminator_learns_to_tell_sources_apart():
    torch.manual_seed(0)
    task = discriminator()
    labels = [0, 1] * 8
    # source 1's features are shifted
    feats = torch.randn(16, 4, 3, 3) + torch.tensor(labels).view(
        -1, 1, 1, 1) * 1.5
    opt = torch.optim.SGD(task.parameters(), lr=0.5)
    losses = []
    for _ in range(30):
        out = task.loss((feats.requires_grad_(), ), source_samples(labels))
        opt.zero_grad()
        out['loss_cls'].backward()
        opt.step()
        losses.append(float(out['loss_cls']))
    assert losses[-1] < 0.5 * losses[0]
    assert float(out['acc']) > 90
    # images without a source label are not labelled for it
    assert task.loss((feats, ), source_samples([None] * 16)) == {}


def test_discriminator_trains_in_the_model_by_default_auxiliary():
    cfg = tiny_model_cfg()
    cfg['tasks']['disc'] = dict(
        type='DomainDiscriminatorTask', in_channels=16, hidden_channels=(8, ),
        grl=dict(schedule='constant', max_lambda=1.0))
    model = MODELS.build(cfg)
    assert model.tasks['disc'].auxiliary  # by default
    batch = random_batch(4)
    for i, s in enumerate(batch['data_samples']):
        s.set_metainfo(dict(source=i % 2))
    wrapper = balancing_wrapper(model, 'EqualWeighting', lr=0.01)
    before = [p.detach().clone() for p in model.tasks['disc'].parameters()]
    logs = model.train_step(batch, wrapper)
    assert math.isfinite(float(logs['disc.loss']))
    assert float(logs['disc.grl_lambda']) == 1.0
    assert all((p - b).abs().max() > 0 for p, b in
               zip(model.tasks['disc'].parameters(), before))
