"""Loss weightings against torchjd 0.18's scalarizers: STCH and IMTL-L (run
through torchjd), GLS (torchjd's geometric mean), and DWA, uncertainty
weighting and FAMO (ours, compared with torchjd's on the same losses)."""
import math

import pytest
import torch
import torchjd.scalarization as tjs

from mmmtl.registry import build_balancer

F64 = torch.float64


def b(type_, **kw):
    return build_balancer(dict(type=type_, **kw))


def toy_losses(theta):
    """Three positive losses of a shared parameter vector."""
    return torch.stack([(theta**2).sum() + 1, (theta - 1).abs().sum() + .5,
                        torch.exp(theta).sum()])


def weights_of(scalarizer, losses):
    """The gradient of a torchjd scalarizer at ``losses``."""
    leaf = losses.detach().clone().requires_grad_()
    (w, ) = torch.autograd.grad(scalarizer(leaf), leaf)
    return w


def theta_grad(bal, theta):
    """The model gradient of one step through the balancer, as the optim
    wrapper takes it: backward of sum_t w_t L_t + regularizer."""
    losses = toy_losses(theta)
    w = bal(losses.detach())
    total = (w * losses).sum()
    reg = bal.regularizer()
    if reg is not None:
        total = total + reg
    (g, ) = torch.autograd.grad(total, theta)
    return g


# ----------------------------------------------------------------------
# STCH
# ----------------------------------------------------------------------
def test_stch_weights_by_hand():
    # L = (1, 2), lambda = (1/2, 1/2), mu = 0.5, z* = 0:
    # lambda L / mu = (1, 2); w = lambda softmax(1, 2)
    w = b('STCH', mu=0.5, normalize='none')(torch.tensor([1.0, 2.0]))
    e = math.exp(1.0)
    torch.testing.assert_close(
        w, torch.tensor([0.5 / (1 + e), 0.5 * e / (1 + e)]))
    # small mu: (nearly) all the weight on the task furthest above z*
    w = b('STCH', mu=1e-3, reference=[0.0, 1.5], normalize='none')(
        torch.tensor([1.0, 2.0]))
    torch.testing.assert_close(w, torch.tensor([0.5, 0.0]), atol=1e-6,
                               rtol=0)


def test_stch_gradient_is_torchjds():
    theta = torch.tensor([0.3, -0.7], requires_grad=True)
    ref = tjs.STCH(0.2, weights=torch.tensor([0.2, 0.3, 0.5]))
    (want, ) = torch.autograd.grad(ref(toy_losses(theta)), theta)
    got = theta_grad(b('STCH', mu=0.2, pref_vector=[0.2, 0.3, 0.5],
                       normalize='none'), theta)
    torch.testing.assert_close(got, want)


def test_stch_on_a_subset_of_the_tasks():
    bal = b('STCH', mu=1.0, pref_vector=[0.2, 0.3, 0.5], num_tasks=3,
            normalize='none')
    # only task 2 present: its weight is lambda_2 softmax(one entry) = 0.5
    torch.testing.assert_close(bal(torch.tensor([3.0]), tasks=[2]),
                               torch.tensor([0.5]))
    with pytest.raises(ValueError, match='STCH: mu'):
        b('STCH', mu=0.0)


def test_stch_authors_recipe_by_hand():
    # warm-up 1 step, nadir from the mean of the next 2, then
    # w_t = T / L_t softmax(log(L_t / n_t) / mu)
    bal = b('STCH', mu=0.5, warmup_iters=1, nadir_iters=2, num_tasks=2)
    for losses in ([4.0, 40.0], [2.0, 30.0], [4.0, 10.0]):
        # the log objective: w = 1 / L
        torch.testing.assert_close(bal(torch.tensor(losses)),
                                   1 / torch.tensor(losses))
    # nadir (3, 20); L = (1.5, 20): log(L / n) = (log 1/2, 0)
    w = bal(torch.tensor([1.5, 20.0]))
    soft = torch.softmax(torch.tensor([math.log(0.5), 0.0]) / 0.5, 0)
    torch.testing.assert_close(
        w, 2 / torch.tensor([1.5, 20.0]) * soft)


def test_stch_authors_recipe_ignores_a_tasks_loss_scale():
    # a task's losses in units 20 times larger: its weight is 1/20 of
    # what it was, at every step, so w_t L_t's gradient is the same
    plain = b('STCH', warmup_iters=2, nadir_iters=3, num_tasks=2)
    scaled = b('STCH', warmup_iters=2, nadir_iters=3, num_tasks=2)
    gen = torch.Generator().manual_seed(0)
    for _ in range(10):
        losses = torch.rand(2, generator=gen, dtype=torch.float64) + 0.2
        torch.testing.assert_close(
            scaled(losses * torch.tensor([1.0, 20.0], dtype=torch.float64)),
            plain(losses) / torch.tensor([1.0, 20.0], dtype=torch.float64))


def test_stch_nadir_is_in_the_checkpoint():
    bal = b('STCH', warmup_iters=0, nadir_iters=2, num_tasks=2)
    for losses in ([1.0, 2.0], [3.0, 4.0]):
        bal(torch.tensor(losses))
    resumed = b('STCH', warmup_iters=0, nadir_iters=2, num_tasks=2)
    resumed.load_state_dict(bal.state_dict())
    losses = torch.tensor([1.0, 5.0])
    torch.testing.assert_close(resumed(losses), bal(losses))
    with pytest.raises(ValueError, match="normalize='none'"):
        b('STCH', reference=[0.0, 1.0])


# ----------------------------------------------------------------------
# IMTL-L
# ----------------------------------------------------------------------
def test_imtl_l_gradients_are_torchjds():
    # the model's and the scales' gradients equal those of torchjd's IMTLL
    theta = torch.tensor([0.3, -0.7], requires_grad=True)
    bal = b('IMTLL', num_tasks=3)
    with torch.no_grad():
        bal.scalarizer.log_scale.copy_(torch.tensor([0.2, -0.1, 0.4]))
    ref = tjs.IMTLL(3)
    with torch.no_grad():
        ref.log_scale.copy_(torch.tensor([0.2, -0.1, 0.4]))
    want = torch.autograd.grad(ref(toy_losses(theta)),
                               [theta, ref.log_scale])
    losses = toy_losses(theta)
    w = bal(losses.detach())
    torch.testing.assert_close(w, torch.exp(torch.tensor([0.2, -0.1, 0.4])))
    total = (w * losses).sum() + bal.regularizer()
    got = torch.autograd.grad(total, [theta, bal.scalarizer.log_scale])
    for g, r in zip(got, want):
        torch.testing.assert_close(g.float(), r.float())
    # the combined loss's value is the objective's
    torch.testing.assert_close(total.float(), ref(losses).float())


def test_imtl_l_is_uncertainty_weighting_with_the_sign_of_s_flipped():
    # same objective from the same start: the same weights, the same
    # gradient for the model, mirrored gradients for s, at every step
    imtl, uw = b('IMTLL', num_tasks=2), b('UncertaintyWeighting',
                                         num_tasks=2)
    imtl_opt = torch.optim.Adam(imtl.parameters(), lr=0.1)
    uw_opt = torch.optim.Adam(uw.parameters(), lr=0.1)
    theta = torch.tensor([0.3, -0.7], requires_grad=True)
    for _ in range(5):
        totals = []
        for bal, opt in ((imtl, imtl_opt), (uw, uw_opt)):
            opt.zero_grad()
            losses = toy_losses(theta)[:2]
            total = (bal(losses.detach()) * losses).sum() + bal.regularizer()
            theta.grad = None
            total.backward()
            totals.append((total.detach().float(), theta.grad.float()))
            opt.step()
        torch.testing.assert_close(totals[0], totals[1])
        torch.testing.assert_close(imtl.scalarizer.log_scale.detach().float(),
                                   -uw.log_vars.detach().float())


def test_imtl_l_scales_settle_where_every_scaled_loss_is_one():
    bal = b('IMTLL', num_tasks=2)
    opt = torch.optim.SGD(bal.parameters(), lr=0.2)
    losses = torch.tensor([0.5, 4.0])
    for _ in range(300):
        opt.zero_grad()
        w = bal(losses)
        ((w * losses).sum() + bal.regularizer()).backward()
        opt.step()
    # e^{s_t} L_t = 1
    torch.testing.assert_close(bal(losses) * losses, torch.ones(2),
                               rtol=1e-3, atol=0)


# ----------------------------------------------------------------------
# GLS: torchjd's geometric mean
# ----------------------------------------------------------------------
def test_gls_equals_the_gradient_of_torchjds_geometric_mean():
    losses = torch.tensor([0.7, 2.0, 5.0], dtype=F64)
    torch.testing.assert_close(b('GLS')(losses),
                               weights_of(tjs.GeometricMean(), losses))


# ----------------------------------------------------------------------
# ours against torchjd's: DWA, uncertainty weighting, FAMO
# ----------------------------------------------------------------------
def test_dwa_equals_torchjds_stepped_every_interval():
    g = torch.Generator().manual_seed(0)
    ours, ref = b('DWA', num_tasks=3, interval=2), tjs.DWA(temperature=2.0)
    for call in range(9):
        losses = torch.rand(3, dtype=F64, generator=g) + 0.5
        torch.testing.assert_close(ours(losses), weights_of(ref, losses))
        if call % 2 == 1:
            ref.step()              # torchjd's period ends by a call
    assert not torch.allclose(ours(losses), torch.ones(3, dtype=F64))


def test_uncertainty_weighting_is_twice_torchjds_uw():
    # ours: e^{-s} L + s (LibMTL's form); torchjd's: (e^{-s} L + s) / 2 (the
    # paper's regression form): same optimum, every gradient twice torchjd's
    theta = torch.tensor([0.3, -0.7], requires_grad=True)
    s = torch.tensor([0.2, -0.1, 0.4])
    ours, ref = b('UncertaintyWeighting', num_tasks=3), tjs.UW(3)
    with torch.no_grad():
        ours.log_vars.copy_(s)
        ref.log_var.copy_(s)
    want = torch.autograd.grad(ref(toy_losses(theta)), [theta, ref.log_var])
    losses = toy_losses(theta)
    total = (ours(losses.detach()) * losses).sum() + ours.regularizer()
    got = torch.autograd.grad(total, [theta, ours.log_vars])
    for g, r in zip(got, want):
        torch.testing.assert_close(g, 2 * r)


def test_famo_equals_torchjds_updated_with_the_next_steps_losses():
    # torchjd's FAMO updates its logits from the losses after the model
    # step (a second forward on the same batch); ours from the next step's
    # losses. Given the same losses in that order, the weights agree.
    g = torch.Generator().manual_seed(1)
    ours = b('FAMO', num_tasks=3, w_lr=0.1)
    ref = tjs.FAMO(3, lr=0.1, weight_decay=1e-3)
    for step in range(6):
        losses = torch.rand(3, generator=g) + 0.2
        if step:
            ref.update(losses)
        want = weights_of(ref, losses)
        torch.testing.assert_close(ours(losses), want, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(want, want.mean().expand(3), atol=1e-3)
