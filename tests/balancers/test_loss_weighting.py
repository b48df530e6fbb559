"""Loss weightings (and GradNorm): each rule checked by hand or against
autograd of the paper's objective."""
import pytest
import torch

from mmmtl.balancers import (EqualWeighting, GramianWeighting, LossWeighting,
                             StaticWeighting)
from mmmtl.registry import build_balancer


def b(type_, **kw):
    return build_balancer(dict(type=type_, **kw))


def toy_losses(theta):
    """Three positive losses of a shared parameter vector."""
    return torch.stack([(theta**2).sum() + 1, (theta - 1).abs().sum() + .5,
                        torch.exp(theta).sum()])


# ----------------------------------------------------------------------
# static / equal
# ----------------------------------------------------------------------
def test_static_and_equal_weighting():
    eq = b('EqualWeighting')
    assert isinstance(eq, StaticWeighting) and isinstance(eq, LossWeighting)
    w = eq(torch.tensor([3., 4.], dtype=torch.float64))
    assert torch.equal(w, torch.ones(2, dtype=torch.float64))
    assert eq.regularizer() is None
    # StaticWeighting without weights is equal weighting too
    assert torch.equal(b('StaticWeighting')(torch.tensor([3., 4.])),
                       torch.ones(2))
    s = b('StaticWeighting', weights=[0.5, 2.0], num_tasks=2)
    assert torch.equal(s(torch.tensor([3., 4.])),
                       torch.tensor([0.5, 2.0]))
    # configuration, not checkpointed state
    assert 'weights' not in s.state_dict()
    with pytest.raises(ValueError, match='StaticWeighting.*1 entries.*2'):
        b('StaticWeighting', weights=[1.0], num_tasks=2)
    with pytest.raises(ValueError, match='StaticWeighting.*2 weights.*3'):
        b('StaticWeighting', weights=[1, 1])(torch.ones(3))
    # a step with a subset of the tasks: each present task keeps its weight
    s3 = b('StaticWeighting', weights=[0.5, 2.0, 3.0], num_tasks=3)
    assert torch.equal(s3(torch.tensor([3., 4.]), tasks=[0, 2]),
                       torch.tensor([0.5, 3.0]))
    assert torch.equal(eq(torch.tensor([3.]), tasks=[1]),
                       torch.ones(1))
    with pytest.raises(ValueError, match='StaticWeighting: 1 task positions'):
        s3(torch.tensor([3., 4.]), tasks=[0])
    assert EqualWeighting.supports_task_subsets
    assert StaticWeighting.supports_task_subsets


# ----------------------------------------------------------------------
# uncertainty weighting
# ----------------------------------------------------------------------
def test_uncertainty_weights_and_log_variance_gradient():
    u = b('UncertaintyWeighting', num_tasks=2)
    # s is a trainable parameter (the constructor puts it in the optimizer)
    assert [n for n, _ in u.named_parameters()] == ['log_vars']
    assert torch.equal(u.log_vars.detach(), torch.zeros(2))
    s = torch.tensor([0.5, -1.0])
    with torch.no_grad():
        u.log_vars.copy_(s)
    losses = torch.tensor([2.0, 0.3])
    w = u(losses)
    torch.testing.assert_close(w.detach(), torch.exp(-s))
    total = (w * losses).sum() + u.regularizer()
    # regularizer = sum_t s_t
    torch.testing.assert_close(u.regularizer().detach(), s.sum())
    total.backward()
    # d/ds_t (e^{-s_t} L_t + s_t) = -e^{-s_t} L_t + 1
    # = (-e^{-0.5} * 2 + 1, -e^{1} * 0.3 + 1) = (-0.21306, 0.18452)
    want = -torch.exp(-s) * losses + 1
    torch.testing.assert_close(u.log_vars.grad, want)
    torch.testing.assert_close(u.log_vars.grad,
                               torch.tensor([-0.213061, 0.184515]),
                               rtol=1e-5, atol=1e-6)


def test_uncertainty_weighting_on_a_subset_of_the_tasks():
    """Only task 1 of 3 present: its own term, e^{-s_1} L_1 + s_1; the
    other log-variances get a zero gradient."""
    u = b('UncertaintyWeighting', num_tasks=3)
    s = torch.tensor([0.5, -1.0, 0.2])
    with torch.no_grad():
        u.log_vars.copy_(s)
    losses = torch.tensor([0.3])
    w = u(losses, tasks=[1])
    torch.testing.assert_close(w.detach(), torch.tensor([2.718282]))
    ((w * losses).sum() + u.regularizer([1])).backward()
    # d/ds_1 = 1 - e^{1} * 0.3 = 0.184515
    torch.testing.assert_close(u.log_vars.grad,
                               torch.tensor([0.0, 0.184515, 0.0]),
                               rtol=1e-5, atol=1e-6)


def test_uncertainty_weights_settle_at_inverse_losses():
    # minimising over s alone: e^{-s_t} -> 1 / L_t
    u = b('UncertaintyWeighting', num_tasks=2)
    losses = torch.tensor([4.0, 0.5])
    opt = torch.optim.SGD(u.parameters(), lr=0.1)
    for _ in range(500):
        opt.zero_grad()
        ((u(losses) * losses).sum() + u.regularizer()).backward()
        opt.step()
    torch.testing.assert_close(u(losses).detach(), 1 / losses,
                               rtol=1e-3, atol=1e-4)


# ----------------------------------------------------------------------
# DWA
# ----------------------------------------------------------------------
def test_dwa_weights_after_two_periods():
    d = b('DWA', num_tasks=2, interval=2, temperature=2.0)
    # period 1 means (1, 4); period 2 means (0.5, 3.6)
    for losses in ([1., 4.], [1., 4.], [0.5, 3.6], [0.5, 3.6]):
        w = d(torch.tensor(losses))
        assert torch.equal(w, torch.ones(2))      # < two periods complete
    w = d(torch.tensor([0.4, 3.0]))
    # r = (0.5/1, 3.6/4) = (0.5, 0.9);
    # w = 2 e^{r/2} / (e^{0.25} + e^{0.45})
    #   = 2 * (1.284025, 1.568312) / 2.852337 = (0.900332, 1.099668)
    torch.testing.assert_close(w, torch.tensor([0.900332, 1.099668]),
                               rtol=1e-5, atol=1e-6)
    assert w[1] > w[0]      # the task whose loss fell less gets more weight
    torch.testing.assert_close(w.sum(), torch.tensor(2.0))
    # period 3 = steps 5, 6: losses (0.4, 3.0) and (0.2, 3.0) -> mean
    # (0.3, 3.0); from step 7 on r = (0.3/0.5, 3.0/3.6) = (0.6, 0.83333)
    d(torch.tensor([0.2, 3.0]))
    w = d(torch.tensor([1.0, 1.0]))
    r = torch.tensor([0.6, 3.0 / 3.6])
    torch.testing.assert_close(w, 2 * torch.exp(r / 2) /
                               torch.exp(r / 2).sum())


def test_dwa_with_partial_labels_averages_each_task_over_its_steps():
    d = b('DWA', num_tasks=2, interval=2, temperature=2.0)
    # period 1: task 0 seen once (1), task 1 twice (4, 4): means (1, 4)
    d(torch.tensor([1., 4.]))
    assert torch.equal(d(torch.tensor([4.]), tasks=[1]), torch.ones(1))
    # period 2: task 0 (0.5, 0.5), task 1 once (3.6): means (0.5, 3.6)
    d(torch.tensor([0.5]), tasks=[0])
    d(torch.tensor([0.5, 3.6]))
    # r = (0.5, 0.9) as in the full-label case: w = (0.900332, 1.099668);
    # a step with task 1 only gets task 1's entry
    w = d(torch.tensor([3.0]), tasks=[1])
    torch.testing.assert_close(w, torch.tensor([1.099668]), rtol=1e-5,
                               atol=1e-6)
    # period 3 has no task-0 step: task 0 keeps its mean 0.5 (r_0 = 1),
    # task 1's mean is 3.0 (r_1 = 3.0 / 3.6)
    d(torch.tensor([3.0]), tasks=[1])
    w = d(torch.tensor([1.0, 1.0]))
    r = torch.tensor([1.0, 3.0 / 3.6])
    torch.testing.assert_close(w, 2 * torch.exp(r / 2) /
                               torch.exp(r / 2).sum())
    with pytest.raises(ValueError, match='DWA: 2 task positions for 1'):
        d(torch.tensor([1.0]), tasks=[0, 1])


# ----------------------------------------------------------------------
# RLW
# ----------------------------------------------------------------------
@pytest.mark.parametrize('dist', ['normal', 'uniform', 'dirichlet'])
def test_rlw_draws_per_seed_and_step(dist):
    a, c = b('RLW', dist=dist, seed=3), b('RLW', dist=dist, seed=3)
    rng_before = torch.get_rng_state()
    wa = [a(torch.ones(3)) for _ in range(4)]
    wc = [c(torch.ones(3)) for _ in range(4)]
    # torch's global random stream is left alone
    assert torch.equal(torch.get_rng_state(), rng_before)
    for x, y in zip(wa, wc):
        assert torch.equal(x, y)              # same seed + step: same draw
        torch.testing.assert_close(x.sum(), torch.tensor(1.0))
        assert (x > 0).all()
    assert not torch.equal(wa[0], wa[1])      # a new draw every step
    assert not torch.equal(b('RLW', dist=dist, seed=4)(torch.ones(3)),
                           wa[0])


def test_rlw_normal_is_softmax_of_a_standard_normal_draw():
    r = b('RLW', seed=3)
    r(torch.ones(3))
    w = r(torch.ones(3))                # step 1: the second draw
    gen = torch.Generator().manual_seed(3)
    torch.randn(3, generator=gen)
    z = torch.randn(3, generator=gen)
    torch.testing.assert_close(w, torch.softmax(z, 0))


# ----------------------------------------------------------------------
# GLS
# ----------------------------------------------------------------------
def test_gls_weights_by_hand():
    # L = (1, 4): (prod L)^(1/2) = 2; w = 2 / (2 L) = (1, 0.25)
    w = b('GLS')(torch.tensor([1.0, 4.0]))
    torch.testing.assert_close(w, torch.tensor([1.0, 0.25]))
    # sum_t w_t L_t = T * geometric mean / T = the geometric mean
    torch.testing.assert_close((w * torch.tensor([1.0, 4.0])).sum(),
                               torch.tensor(2.0))


def test_gls_weights_give_the_gradient_of_the_geometric_mean():
    theta = torch.tensor([0.3, -0.7], requires_grad=True)
    losses = toy_losses(theta)
    want, = torch.autograd.grad(losses.prod()**(1 / 3), theta,
                                retain_graph=True)
    w = b('GLS')(losses.detach())
    assert not w.requires_grad
    got, = torch.autograd.grad((w * losses).sum(), theta)
    torch.testing.assert_close(got, want)


def test_gls_rejects_negative_losses_and_floors_zero():
    with pytest.raises(ValueError, match='GLS.*non-negative'):
        b('GLS')(torch.tensor([1.0, -0.5]))
    w = b('GLS', eps=1e-8)(torch.tensor([1.0, 0.0]))
    assert torch.isfinite(w).all()


# ----------------------------------------------------------------------
# FAMO
# ----------------------------------------------------------------------
def test_famo_first_weights_by_hand():
    f = b('FAMO', num_tasks=2, eps=0.0)
    # z = (1/2, 1/2); c = 0.5/1 + 0.5/4 = 0.625
    # w = z / (c L) = (0.5/0.625, 0.5/2.5) = (0.8, 0.2)
    w = f(torch.tensor([1.0, 4.0]))
    torch.testing.assert_close(w, torch.tensor([0.8, 0.2]))


def test_famo_weights_give_the_gradient_of_its_log_objective():
    f = b('FAMO', num_tasks=3, min_losses=[0.1, 0.2, 0.0])
    with torch.no_grad():
        f.logits.copy_(torch.tensor([0.3, -0.5, 0.1], dtype=torch.float64))
    theta = torch.tensor([0.3, -0.7], requires_grad=True)
    losses = toy_losses(theta)
    z = torch.softmax(f.logits.float(), 0)
    d = losses - torch.tensor([0.1, 0.2, 0.0]) + 1e-8
    obj = (z * d.log()).sum() / (z / d).sum().detach()
    want, = torch.autograd.grad(obj, theta, retain_graph=True)
    w = f(losses.detach())
    got, = torch.autograd.grad((w * losses).sum(), theta)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(w.sum(), torch.tensor(1.0))


def test_famo_logits_favour_the_task_that_improved_least():
    f = b('FAMO', num_tasks=3, w_lr=0.1, gamma=0.0)
    prev = torch.tensor([1.0, 2.0, 3.0])
    w0 = f(prev)
    # task 0 did not improve, task 1 halved, task 2 fell by a quarter
    cur = prev * torch.tensor([1.0, 0.5, 0.75])
    f(cur)
    assert f.logits[0] > f.logits[2] > f.logits[1]
    # and at equal losses task 0 now gets the largest weight
    z = torch.softmax(f.logits, 0)
    assert z[0] > 1 / 3 > z[1]
    assert w0.shape == (3, )


def test_famo_logit_update_is_torch_adam_on_the_softmax_vjp():
    gamma, lr = 1e-2, 0.05
    f = b('FAMO', num_tasks=3, w_lr=lr, gamma=gamma)
    xi = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    adam = torch.optim.Adam([xi], lr=lr, weight_decay=gamma)
    seq = torch.tensor([[1.0, 2.0, 3.0], [0.9, 1.5, 2.9], [0.85, 1.4, 2.0],
                        [0.8, 1.3, 1.9]], dtype=torch.float64)
    for prev, cur in zip(seq[:-1], seq[1:]):
        if not bool(f.has_prev):
            f(prev)
        f(cur)
        # the authors' update: grad of xi = VJP of softmax with delta
        delta = prev.log() - cur.log()
        xi.grad, = torch.autograd.grad(torch.softmax(xi, 0), xi, delta)
        adam.step()
        torch.testing.assert_close(f.logits, xi.detach())


def test_famo_rejects_losses_below_their_bound():
    with pytest.raises(ValueError, match='FAMO'):
        b('FAMO', num_tasks=2, min_losses=1.0)(torch.tensor([0.5, 2.]))
    with pytest.raises(ValueError, match='FAMO.*min_losses'):
        b('FAMO', num_tasks=2, min_losses=[0.0, 0.1, 0.2])


# ----------------------------------------------------------------------
# GradNorm
# ----------------------------------------------------------------------
def test_gradnorm_step_by_hand():
    g = b('GradNorm', num_tasks=2, alpha=0.0, lr=0.1, step_scale='paper')
    assert isinstance(g, GramianWeighting) and g.weights_heads
    # ||g|| = (4, 1); alpha = 0: target = mean of w_t ||g_t|| for all tasks
    gram = torch.diag(torch.tensor([16.0, 1.0], dtype=torch.float64))
    w0 = g(torch.tensor([1.0, 1.0]), gram)
    assert torch.equal(w0, torch.ones(2))     # before; the losses' dtype
    # N = (4, 1), target 2.5: grad = sign(N - 2.5) * ||g|| = (4, -1)
    # w = (1 - 0.4, 1 + 0.1) = (0.6, 1.1), renormalised to sum 2
    want = torch.tensor([0.6, 1.1], dtype=torch.float64) * 2 / 1.7
    torch.testing.assert_close(g.task_weights, want)
    # the weighted norms moved toward each other: |4w0 - w1| fell
    assert abs(4 * want[0] - want[1]) < 3
    w1 = g(torch.tensor([1.0, 1.0]), gram)
    torch.testing.assert_close(w1, want.float())  # the updated ones, now


@pytest.mark.parametrize('scale', [1e-8, 1.0, 1e4])
def test_gradnorm_relative_step_is_the_same_at_every_gradient_scale(scale):
    # the default divides the step by the mean gradient norm: ||g|| = (4, 1)
    # times sqrt(scale), mean 2.5 sqrt(scale); grad = (4, -1) / 2.5 whatever
    # the scale; w = (1 - 0.16, 1 + 0.04), renormalised to sum 2
    g = b('GradNorm', num_tasks=2, alpha=0.0, lr=0.1)
    gram = torch.diag(torch.tensor([16.0, 1.0], dtype=torch.float64)) * scale
    g(torch.tensor([1.0, 1.0]), gram)
    want = torch.tensor([0.84, 1.04], dtype=torch.float64) * 2 / 1.88
    torch.testing.assert_close(g.task_weights, want)
    with pytest.raises(ValueError, match='GradNorm.*step_scale'):
        b('GradNorm', num_tasks=2, step_scale='adam')


def test_gradnorm_restoring_force_favours_the_slow_task():
    g = b('GradNorm', num_tasks=2, alpha=1.0, lr=0.1)
    gram = torch.eye(2, dtype=torch.float64)      # equal gradient norms
    g(torch.tensor([1.0, 1.0]), gram)       # records L(0) = (1, 1)
    torch.testing.assert_close(g.task_weights, torch.ones(2,
                                                          dtype=torch.float64))
    # task 0 halved its loss, task 1 did not: r = (0.5, 1) / 0.75
    # target = 1 * r = (2/3, 4/3); grad = sign(1 - target) = (1, -1)
    # w = (0.9, 1.1) (sums to 2 already)
    g(torch.tensor([0.5, 1.0]), gram)
    torch.testing.assert_close(g.task_weights,
                               torch.tensor([0.9, 1.1], dtype=torch.float64))


def test_gradnorm_update_is_a_gradient_step_on_its_loss():
    torch.manual_seed(0)
    J = torch.randn(3, 10, dtype=torch.float64) * torch.tensor(
        [[3.0], [1.0], [0.2]], dtype=torch.float64)
    gram = J @ J.T
    lr, alpha = 0.01, 1.5
    g = b('GradNorm', num_tasks=3, alpha=alpha, lr=lr, step_scale='paper')
    l0 = torch.tensor([2.0, 1.0, 3.0], dtype=torch.float64)
    g(l0, gram)
    losses = torch.tensor([1.0, 0.9, 2.5], dtype=torch.float64)
    w_used = g.task_weights.clone()
    # the paper's L_grad, by autograd on a leaf copy of the weights
    w = w_used.clone().requires_grad_(True)
    norms = gram.diagonal().sqrt()
    big_n = w * norms
    r = (losses / l0) / (losses / l0).mean()
    target = (big_n.mean() * r**alpha).detach()     # held constant
    l_grad = (big_n - target).abs().sum()
    grad, = torch.autograd.grad(l_grad, w)
    want = w_used - lr * grad
    want = want * 3 / want.sum()
    got = g(losses, gram)
    torch.testing.assert_close(got, w_used)          # pre-update weights
    torch.testing.assert_close(g.task_weights, want)
    # and the step lowers L_grad (before renormalisation)
    stepped = w_used - lr * grad
    assert ((stepped * norms - target).abs().sum() < l_grad.detach())
