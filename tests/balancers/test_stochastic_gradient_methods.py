"""SDMGrad, MoDo, CR-MOGM, ExcessMTL (torchjd 0.18) and MoCo (the paper's
rule, written out here): against torchjd on the same inputs, and by hand."""
import pytest
import torch
import torchjd.aggregation as tjd

from mmmtl.registry import build_balancer

F64 = torch.float64


def b(type_, **kw):
    return build_balancer(dict(type=type_, **kw))


def jacobians(steps, t=3, p=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        J = torch.randn(t, p, dtype=F64, generator=g)
        J[1] = -J[0] + 0.3 * J[1]                 # a conflicting pair
        yield torch.rand(t, dtype=F64, generator=g) + 0.5, J


def simplex_projection(y):
    """Euclidean projection onto the probability simplex (Duchi et al.)."""
    u, _ = torch.sort(y, descending=True)
    css = u.cumsum(0) - 1
    k = torch.arange(1, len(y) + 1, dtype=y.dtype)
    rho = int((u - css / k > 0).nonzero().max())
    return (y - css[rho] / (rho + 1)).clamp(min=0)


@pytest.mark.parametrize('name,kw,ref', [
    ('SDMGrad', dict(), lambda: tjd.SDMGradWeighting()),
    ('SDMGrad', dict(lambda_=0.0, n_iter=5), lambda: tjd.SDMGradWeighting(
        lambda_=0.0, n_iter=5)),
    ('MoDo', dict(step_scale='paper'), lambda: tjd.MoDoWeighting()),
])
def test_stateful_weightings_equal_torchjds_step_by_step(name, kw, ref):
    ours, ref = b(name, num_tasks=3, **kw), ref()
    for losses, J in jacobians(4):
        torch.testing.assert_close(ours(losses, J @ J.T), ref(J @ J.T),
                                   rtol=1e-6, atol=1e-8)


def test_modo_one_step_by_hand_and_relative_step():
    # G = diag(1, 4), lambda = (1/2, 1/2), gamma = 0.1, rho = 0:
    # lambda - 0.1 G lambda = (0.45, 0.3), projected: + 0.125 each
    G = torch.diag(torch.tensor([1.0, 4.0], dtype=F64))
    w = b('MoDo', gamma=0.1, rho=0.0, step_scale='paper')(
        torch.ones(2, dtype=F64), G)
    torch.testing.assert_close(w, torch.tensor([0.575, 0.425], dtype=F64))
    # 'relative': the same step on G / s whatever G's scale (s = 2.5)
    for scale in (1e-6, 1.0, 1e3):
        w = b('MoDo', gamma=0.25, rho=0.0)(torch.ones(2, dtype=F64),
                                             scale * G)
        torch.testing.assert_close(w, torch.tensor([0.575, 0.425],
                                                   dtype=F64))


def test_cr_mogm_smooths_the_wrapped_weights():
    ours, mgda = b('CRMOGM', alpha=0.75, num_tasks=3), b('MGDA')
    smoothed = None
    for losses, J in jacobians(4):
        raw = mgda(losses, J @ J.T)
        smoothed = raw if smoothed is None else 0.75 * smoothed + 0.25 * raw
        torch.testing.assert_close(ours(losses, J @ J.T), smoothed)
    pc = b('CRMOGM', base=dict(type='MGDAUB'), num_tasks=3)
    assert pc.jacobian_mode == 'feature'
    with pytest.raises(TypeError, match='CRMOGM: `base`'):
        b('CRMOGM', base=dict(type='GLS'))


def test_excess_mtl_equals_torchjds_aggregator():
    ours, ref = b('ExcessMTL', n_warmup_steps=0, num_tasks=3), \
        tjd.ExcessMTL()
    for losses, J in jacobians(4):
        torch.testing.assert_close(ours(losses, J), ref(J))
    assert ours.jacobian_mode == 'parameter'


def test_excess_mtl_first_steps_by_hand():
    # J = diag(2, 1): S = J^2 after step 1, E_t = g_t^2 / |g_t| = |g_t|
    # (+ 1e-7 in the root), the baseline; step 1: w = softmax(log(1/2) +
    # E) = softmax(2, 1); step 2 (same J): S = 2 J^2, E = |g_t| / sqrt 2,
    # relative to the baseline 1/sqrt 2 each: w = softmax(log w + 1/sqrt2)
    J = torch.diag(torch.tensor([2.0, 1.0], dtype=F64))
    bal = b('ExcessMTL', n_warmup_steps=0, num_tasks=2)
    w1 = torch.softmax(torch.tensor([2.0, 1.0], dtype=F64), 0)
    torch.testing.assert_close(bal(torch.ones(2, dtype=F64), J), w1 @ J,
                               rtol=1e-6, atol=0)
    w2 = torch.softmax(w1.log() + 2**-0.5, 0)          # = w1
    weights, update = bal.weights_and_update(torch.ones(2, dtype=F64), J)
    torch.testing.assert_close(weights, w2, rtol=1e-6, atol=0)
    torch.testing.assert_close(update, w2 @ J, rtol=1e-6, atol=0)


@pytest.mark.parametrize('normalize', [False, True])
def test_moco_follows_the_papers_rule(normalize):
    beta, gamma, rho = 0.5, 0.1, 0.05
    ours = b('MoCo', beta=beta, gamma=gamma, rho=rho,
             normalize_grads=normalize, step_scale='paper', num_tasks=3)
    y = torch.zeros(3, 12, dtype=F64)
    lam = torch.full((3, ), 1 / 3, dtype=F64)
    for k, (losses, J) in enumerate(jacobians(4), start=1):
        g = J
        if normalize:
            g = J / (J.norm(dim=1, keepdim=True) + 1e-8) * losses[:, None]
        y = y - beta / k**0.5 * (y - g)
        lam = simplex_projection(
            lam - gamma / k**0.5 * (y @ y.T + rho * torch.eye(3, dtype=F64))
            @ lam)
        weights, update = ours.weights_and_update(losses, J)
        # the weights handed to the log are the paper's lambda
        torch.testing.assert_close(weights, lam)
        torch.testing.assert_close(update, lam @ y)
    assert ours.jacobian_mode == 'parameter'


def test_moco_relative_step_is_the_papers_on_the_normalised_gramian():
    # step_scale='relative': the lambda step of the paper's rule on
    # Y Y^T / s, s its mean diagonal; the weights on c J equal those on J
    # for c from 1e-4 to 1e3, the update scales by c
    beta, gamma = 0.5, 0.1
    y = torch.zeros(3, 12, dtype=F64)
    lam = torch.full((3, ), 1 / 3, dtype=F64)
    runs = {c: b('MoCo', num_tasks=3) for c in (1.0, 1e-4, 1e3)}
    for k, (losses, J) in enumerate(jacobians(4), start=1):
        y = y - beta / k**0.5 * (y - J)
        gram = y @ y.T
        lam = simplex_projection(lam - gamma / k**0.5 * gram /
                                 gram.diagonal().mean() @ lam)
        for c, bal in runs.items():
            weights, update = bal.weights_and_update(losses, c * J)
            torch.testing.assert_close(weights, lam)
            torch.testing.assert_close(update, c * (lam @ y))
    with pytest.raises(ValueError, match="MoCo: step_scale"):
        b('MoCo', step_scale='absolute')


def test_excess_mtl_default_first_step_sets_the_baseline_whatever_the_scale():
    # default n_warmup_steps=1: 1/T on the first step, then exponents that
    # are ratios to its excess risks: the same weights on c J for c from
    # 1 to 1e4 (at 1e-2 torchjd's 1e-7 under the square root of the squared
    # gradients shifts them by 0.3 % on these; a raw first step
    # (n_warmup_steps=0) drives a weight to exactly 0 on large gradients)
    runs = {c: b('ExcessMTL', num_tasks=3) for c in (1.0, 1e2, 1e4)}
    for step, (losses, J) in enumerate(jacobians(4)):
        got = {c: bal.weights_and_update(losses, c * J)[0]
               for c, bal in runs.items()}
        if step == 0:
            torch.testing.assert_close(got[1.0], torch.full((3, ), 1 / 3,
                                                            dtype=F64))
        for c in (1e2, 1e4):
            torch.testing.assert_close(got[c], got[1.0], rtol=1e-4, atol=0)
        assert (got[1.0] > 0.05).all(), got[1.0]
    raw = b('ExcessMTL', n_warmup_steps=0, num_tasks=3)
    for losses, J in jacobians(3):
        weights = raw.weights_and_update(losses, 1e4 * J)[0]
    assert (weights == 0).any(), weights
