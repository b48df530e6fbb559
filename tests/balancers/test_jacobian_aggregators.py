"""Jacobian aggregators: GradDrop and DB-MTL."""
import math

import pytest
import torch
import torchjd.aggregation as tjd

from mmmtl.balancers import JacobianAggregator
from mmmtl.registry import build_balancer

F64 = torch.float64


def b(type_, **kw):
    return build_balancer(dict(type=type_, **kw))


# ----------------------------------------------------------------------
# GradDrop
# ----------------------------------------------------------------------
def test_graddrop_keeps_one_sign_per_coordinate():
    gd = b('GradDrop', seed=0)
    assert isinstance(gd, JacobianAggregator)
    J = torch.tensor([[1.0, 2.0, -1.0], [3.0, -2.0, -1.0]])
    for _ in range(5):
        g = gd(torch.ones(2), J)
        # coordinate 0: both positive, P = 1 -> kept: 4; coordinate 2: both
        # negative, P = 0 -> kept: -2
        assert g[0] == 4.0 and g[2] == -2.0
        # coordinate 1: P = 1/2, one sign survives: 2 or -2, never 0
        assert g[1] in (2.0, -2.0)


def test_graddrop_sign_is_drawn_with_probability_purity():
    # coordinate with g = (3, -1): P = (1 + 2/4)/2 = 0.75 -> +3 w.p. 0.75
    gd = b('GradDrop', seed=0)
    J = torch.tensor([[3.0], [-1.0]]).repeat(1, 4000)
    g = gd(torch.ones(2), J)
    assert set(g.unique().tolist()) == {3.0, -1.0}
    assert abs(float((g == 3.0).float().mean()) - 0.75) < 0.03


def test_graddrop_has_no_task_weights_to_log():
    weights, update = b('GradDrop', leak=1.0).weights_and_update(
        torch.ones(2), torch.tensor([[1.0, 2.0], [3.0, -2.0]]))
    assert weights is None
    torch.testing.assert_close(update, torch.tensor([4.0, 0.0]))


def test_graddrop_leak():
    J = torch.tensor([[1.0, 2.0], [3.0, -2.0]])
    # leak 1: every gradient passes unmasked -> the plain sum
    torch.testing.assert_close(b('GradDrop', leak=1.0)(
        torch.ones(2), J), J.sum(0))
    # leak per task (1, 0): task 0 always passes; task 1 is masked
    g = b('GradDrop', leak=[1.0, 0.0], seed=0)(torch.ones(2), J)
    assert g[0] == 4.0 and g[1] in (0.0, 2.0)
    with pytest.raises(ValueError, match='GradDrop'):
        b('GradDrop', leak=[1.0, 0.0, 0.5], num_tasks=2)
    with pytest.raises(ValueError, match='GradDrop'):
        b('GradDrop', leak=2.0)


def test_graddrop_equals_torchjd_with_the_same_draws(global_seeds):
    torch.manual_seed(0)
    J = torch.randn(3, 40)
    bal, seeds = b('GradDrop', seed=7), global_seeds(7)
    for _ in range(2):
        got = bal(torch.ones(3), J)
        torch.manual_seed(next(seeds))
        torch.testing.assert_close(got, tjd.GradDrop()(J))


def test_graddrop_seeded_draws_repeat_and_leave_global_rng():
    J = torch.randn(3, 40)
    a, c = b('GradDrop', seed=1), b('GradDrop', seed=1)
    state = torch.get_rng_state()
    ga = [a(torch.ones(3), J) for _ in range(3)]
    gc = [c(torch.ones(3), J) for _ in range(3)]
    assert torch.equal(torch.get_rng_state(), state)
    for x, y in zip(ga, gc):
        assert torch.equal(x, y)
    assert not torch.equal(ga[0], ga[1])          # new draws every step


# ----------------------------------------------------------------------
# DB-MTL
# ----------------------------------------------------------------------
def test_dbmtl_two_steps_by_hand():
    d = b('DBMTL', num_tasks=2, beta=0.9, beta_sigma=0.5, eps=0.0)
    assert d.jacobian_mode == 'parameter'
    losses = torch.tensor([2.0, 1.0], dtype=F64)
    # step 1: grads of log L = rows / L = ((1, 0), (0, 4));
    # beta_1 = 0.9 / 1^0.5 = 0.9; ema = 0.1 * ((1, 0), (0, 4))
    # = ((0.1, 0), (0, 0.4)); norms (0.1, 0.4) -> scale (4, 1)
    # g = 4 (0.1, 0) + (0, 0.4) = (0.4, 0.4)
    J1 = torch.tensor([[2.0, 0.0], [0.0, 4.0]], dtype=F64)
    weights, update = d.weights_and_update(losses, J1)
    torch.testing.assert_close(update, torch.tensor([0.4, 0.4], dtype=F64))
    # the logged weights: the rescaling factors on the averaged gradients
    torch.testing.assert_close(weights, torch.tensor([4.0, 1.0], dtype=F64))
    # step 2: beta_2 = 0.9 / sqrt 2 = 0.636396; grads of log L =
    # ((0, 2), (2, 0)) / (2, 1) = ((0, 1), (2, 0))
    # ema_0 = 0.636396 (0.1, 0) + 0.363604 (0, 1) = (0.063640, 0.363604)
    # ema_1 = 0.636396 (0, 0.4) + 0.363604 (2, 0) = (0.727208, 0.254558)
    # norms (0.369131, 0.770477): scale (2.087272, 1)
    # g = 2.087272 ema_0 + ema_1 = (0.860040, 1.013498)
    J2 = torch.tensor([[0.0, 2.0], [2.0, 0.0]], dtype=F64)
    beta2 = 0.9 / math.sqrt(2)
    ema = beta2 * torch.tensor([[0.1, 0.0], [0.0, 0.4]], dtype=F64) + \
        (1 - beta2) * torch.tensor([[0.0, 1.0], [2.0, 0.0]], dtype=F64)
    norms = ema.norm(dim=1)
    want = (norms.max() / norms) @ ema
    got = d(losses, J2)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(got, torch.tensor([0.860040, 1.013498],
                                                 dtype=F64), rtol=1e-5,
                               atol=1e-6)
    torch.testing.assert_close(d.ema, ema)


def test_dbmtl_rows_over_losses_are_the_log_loss_gradients():
    theta = torch.tensor([0.3, -0.7, 1.1], dtype=F64, requires_grad=True)
    losses = torch.stack([(theta**2).sum() + 1, torch.exp(theta).sum()])
    J = torch.stack([torch.autograd.grad(l, theta, retain_graph=True)[0]
                     for l in losses])
    want = torch.stack([torch.autograd.grad(l.log(), theta,
                                            retain_graph=True)[0]
                        for l in losses])
    d = b('DBMTL', num_tasks=2, eps=0.0)
    d(losses.detach(), J)
    # first step: ema = (1 - beta) * grad log L
    torch.testing.assert_close(d.ema / (1 - 0.9), want)


def test_dbmtl_rescales_every_task_to_the_largest_norm():
    g = torch.Generator().manual_seed(0)
    J = torch.randn(3, 30, dtype=F64, generator=g)
    losses = torch.tensor([0.5, 2.0, 8.0], dtype=F64)
    d = b('DBMTL', num_tasks=3)
    for _ in range(4):
        d(losses, J)
    # constant gradients: the average is (1 - prod beta_k) * grad log L,
    # and the update is max-norm-rescaled grad log L up to that factor
    logg = J / losses[:, None]
    n = logg.norm(dim=1)
    direction = (n.max() / n) @ logg
    got = d(losses, J)
    cos = got @ direction / (got.norm() * direction.norm())
    torch.testing.assert_close(cos, torch.tensor(1.0, dtype=F64))


def test_dbmtl_restarts_when_the_jacobian_changes_width():
    d = b('DBMTL', num_tasks=2)
    d(torch.ones(2), torch.ones(2, 3))
    with pytest.warns(UserWarning, match='DBMTL.*restarting'):
        d(torch.ones(2), torch.ones(2, 5))
    assert d.ema.shape == (2, 5) and int(d.step) == 1


def test_dbmtl_rejects_negative_losses():
    with pytest.raises(ValueError, match='DBMTL'):
        b('DBMTL')(torch.tensor([1.0, -1.0]), torch.ones(2, 3))
