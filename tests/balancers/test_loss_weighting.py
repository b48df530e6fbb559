"""Loss weightings: each rule checked by hand or against autograd."""
import math

import pytest
import torch

from mmmtl.balancers import GramianWeighting, LossWeighting
from mmmtl.registry import build_balancer


def b(type_, **kw):
    return build_balancer(dict(type=type_, **kw))


def test_static_and_equal():
    assert torch.equal(b('EqualWeighting').weigh(torch.tensor([3., 4.])),
                       torch.ones(2))
    w = b('StaticWeighting', weights=[0.5, 2.0], num_tasks=2)
    assert torch.equal(w.weigh(torch.tensor([3., 4.])),
                       torch.tensor([0.5, 2.0]))
    with pytest.raises(ValueError, match='StaticWeighting'):
        b('StaticWeighting', weights=[1.0], num_tasks=2)
    with pytest.raises(ValueError, match='StaticWeighting.*3 losses'):
        b('StaticWeighting', weights=[1, 1], num_tasks=2).weigh(
            torch.ones(3))


def test_uncertainty_gradient_in_log_variance():
    u = b('UncertaintyWeighting', num_tasks=2)
    with torch.no_grad():
        u.log_vars.copy_(torch.tensor([0.5, -1.0]))
    losses = torch.tensor([2.0, 0.3])
    total = (u.weigh(losses) * losses).sum() + u.regularizer()
    total.backward()
    # d/ds (e^{-s} L + s) = -e^{-s} L + 1
    want = -torch.exp(-torch.tensor([0.5, -1.0])) * losses + 1
    torch.testing.assert_close(u.log_vars.grad, want)
    assert u.log_vars.requires_grad


def test_dwa_weights_after_two_periods():
    d = b('DWA', num_tasks=2, interval=2, temperature=2.0)
    # period 1 means (1, 4); period 2 means (0.5, 3.6)
    for losses in ([1., 4.], [1., 4.], [0.5, 3.6], [0.5, 3.6]):
        w = d.weigh(torch.tensor(losses))
        assert torch.equal(w, torch.ones(2))      # < two periods seen
    w = d.weigh(torch.tensor([0.4, 3.0]))
    r = torch.tensor([0.5 / 1.0, 3.6 / 4.0])      # 0.5, 0.9
    want = 2 * torch.softmax(r / 2.0, 0)          # 2 e^{.25}/(e^{.25}+e^{.45})
    torch.testing.assert_close(w, want)
    assert w[1] > w[0]      # the task that improved less gets more weight
    # state round trip
    d2 = b('DWA', num_tasks=2, interval=2)
    d2.load_state_dict(d.state_dict())
    torch.testing.assert_close(d2.weigh(torch.tensor([1., 1.])),
                               d.weigh(torch.tensor([1., 1.])))


def test_rlw_is_seeded_per_step_and_sums_to_one():
    a, c = b('RLW', seed=3), b('RLW', seed=3)
    wa = [a.weigh(torch.ones(3)) for _ in range(4)]
    wc = [c.weigh(torch.ones(3)) for _ in range(4)]
    for x, y in zip(wa, wc):
        assert torch.equal(x, y)
        torch.testing.assert_close(x.sum(), torch.tensor(1.0))
    assert not torch.equal(wa[0], wa[1])
    # resume: a fresh balancer with the saved step draws the same next
    d = b('RLW', seed=3)
    d.load_state_dict(a.state_dict())
    assert torch.equal(d.weigh(torch.ones(3)), c.weigh(torch.ones(3)))
    g = torch.Generator().manual_seed(3)
    torch.testing.assert_close(wa[0], torch.softmax(torch.randn(3,
                                                                generator=g),
                                                    0))


def _toy_losses(theta):
    # three positive losses of a shared parameter vector
    return torch.stack([(theta**2).sum() + 1, (theta - 1).abs().sum() + .5,
                        torch.exp(theta).sum()])


def test_gls_weights_give_the_gradient_of_the_geometric_mean():
    theta = torch.tensor([0.3, -0.7], requires_grad=True)
    losses = _toy_losses(theta)
    want, = torch.autograd.grad(losses.prod()**(1 / 3), theta,
                                retain_graph=True)
    w = b('GLS').weigh(losses.detach())
    got, = torch.autograd.grad((w * losses).sum(), theta)
    torch.testing.assert_close(got, want)
    with pytest.raises(ValueError, match='positive'):
        b('GLS').weigh(torch.tensor([1.0, 0.0]))


def test_famo_weights_and_logit_update():
    f = b('FAMO', num_tasks=3, w_lr=0.1, gamma=0.0)
    theta = torch.tensor([0.3, -0.7], requires_grad=True)
    losses = _toy_losses(theta)
    z = torch.softmax(f.logits, 0)
    obj = (z * losses.log()).sum() / (z / losses).sum().detach()
    want, = torch.autograd.grad(obj, theta, retain_graph=True)
    w = f.weigh(losses.detach())
    got, = torch.autograd.grad((w * losses).sum(), theta)
    torch.testing.assert_close(got, want)
    # next step: task 0 did not improve, tasks 1 and 2 halved -> task 0's
    # logit must grow the most (FAMO favours the task that improved least)
    prev = losses.detach()
    f.weigh(prev * torch.tensor([1.0, 0.5, 0.5]))
    assert f.logits[0] > f.logits[1] and f.logits[0] > f.logits[2]
    g = b('FAMO', num_tasks=3, w_lr=0.1, gamma=0.0)
    g.load_state_dict(f.state_dict())
    nxt = torch.tensor([1.0, 2.0, 3.0])
    torch.testing.assert_close(g.weigh(nxt), f.weigh(nxt))


def test_gradnorm_moves_weights_to_equalise_weighted_norms():
    g = b('GradNorm', num_tasks=2, alpha=0.0, lr=0.1)
    assert isinstance(g, GramianWeighting) and g.weights_heads
    # task 0's gradient is 4x larger: with alpha=0 the target is equal
    # weighted norms, so w0 must fall and w1 rise
    gram = torch.diag(torch.tensor([16.0, 1.0]))
    w0 = g.weigh(torch.tensor([1.0, 1.0]), gram)
    assert torch.equal(w0, torch.ones(2))          # this step: old weights
    # by hand: G = (4, 1), mean 2.5, grad = sign(G - 2.5) * norm = (4, -1)
    # w = (1 - 0.4, 1 + 0.1) = (0.6, 1.1), renormalised to sum 2
    torch.testing.assert_close(g.task_weights,
                               torch.tensor([0.6, 1.1]) * 2 / 1.7)
    w1 = g.weigh(torch.tensor([1.0, 1.0]), gram)
    assert w1[0] < 1 < w1[1]


def test_wrong_number_of_losses_names_the_method():
    with pytest.raises(ValueError, match='DWA.*2 tasks.*3 losses'):
        b('DWA', num_tasks=2).weigh(torch.ones(3))


@pytest.mark.parametrize('name', ['UncertaintyWeighting', 'DWA', 'FAMO',
                                  'GradNorm', 'NashMTL'])
def test_methods_that_need_num_tasks_say_so(name):
    with pytest.raises(ValueError, match='num_tasks'):
        b(name)
