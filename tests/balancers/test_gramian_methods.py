"""Gramian weightings: ours (from G = J J^T alone) against torchjd's
aggregators on the full Jacobian, hand-worked examples of each paper's rule,
and the behaviour each paper promises on conflicting gradients."""
import math

import pytest
import torch
import torchjd.aggregation as tjd

from mmmtl.balancers import TorchJDWeighting, gramian_factor
from mmmtl.registry import build_balancer

F64 = torch.float64


def b(type_, **kw):
    return build_balancer(dict(type=type_, **kw))


def update(bal, J, losses=None):
    """The shared update J^T w the optim wrapper would apply."""
    losses = torch.ones(J.shape[0], dtype=J.dtype) if losses is None \
        else losses
    w = bal(losses, J @ J.T)
    assert w.shape == (J.shape[0], )
    return w.to(J) @ J


def t(*rows):
    return torch.tensor(rows, dtype=F64)


@pytest.fixture
def J():
    g = torch.Generator().manual_seed(0)
    return torch.randn(3, 50, dtype=F64, generator=g)


def test_gramian_factor_reproduces_the_gramian(J):
    G = J @ J.T
    M = gramian_factor(G)
    assert M.shape == (3, 3)
    torch.testing.assert_close(M @ M.T, G)


# ----------------------------------------------------------------------
# ours from the Gramian == torchjd's Aggregator on the Jacobian
# ----------------------------------------------------------------------
SAME_AS_TORCHJD = {
    'MGDA': (dict(), lambda: tjd.MGDA()),
    'MGDAUB': (dict(), lambda: tjd.MGDA()),
    'IMTLG': (dict(), lambda: tjd.IMTLG()),
    'AlignedMTL': (dict(), lambda: tjd.AlignedMTL()),
    'AlignedMTL-rmse': (dict(scale_mode='rmse'),
                        lambda: tjd.AlignedMTL(scale_mode='rmse')),
    'UPGrad': (dict(), lambda: tjd.UPGrad()),
    'UPGrad-pref': (dict(pref_vector=[0.2, 0.3, 0.5]),
                    lambda: tjd.UPGrad(t(0.2, 0.3, 0.5))),
    'DualProj': (dict(), lambda: tjd.DualProj()),
    'CAGrad': (dict(c=0.4), lambda: tjd.CAGrad(c=0.4)),
    # Nash-MTL and FairGrad: the paper's scale (the default rescales the
    # weights to sum to T)
    'FairGrad': (dict(alpha=1.0, update_scale='paper'),
                 lambda: tjd.FairGrad(alpha=1.0)),
    'FairGrad-a2': (dict(alpha=2.0, update_scale='paper'),
                    lambda: tjd.FairGrad(alpha=2.0)),
    # matrix-only in torchjd: ours run on a T x T factor of G
    'ConFIG': (dict(), lambda: tjd.ConFIG()),
    'ConFIG-pref': (dict(pref_vector=[1.0, 2.0, 1.0]),
                    lambda: tjd.ConFIG(t(1.0, 2.0, 1.0))),
    'NashMTL': (dict(update_scale='paper'), lambda: tjd.NashMTL(n_tasks=3)),
    'NashMTL-noclip': (dict(max_norm=0.0, update_scale='paper'),
                       lambda: tjd.NashMTL(n_tasks=3, max_norm=0.0)),
}


@pytest.mark.parametrize('case', sorted(SAME_AS_TORCHJD))
def test_ours_from_gramian_equals_torchjd_on_jacobian(J, case):
    kw, make_ref = SAME_AS_TORCHJD[case]
    ours = b(case.split('-')[0], num_tasks=3, **kw)
    ref = make_ref()
    for step in range(2):           # twice: stateful ones (Nash) too
        Jk = J if step == 0 else J.flip(0) * 0.5
        torch.testing.assert_close(update(ours, Jk), ref(Jk), rtol=1e-5,
                                   atol=1e-5)


@pytest.mark.parametrize('name,make_ref', [
    ('PCGrad', lambda: tjd.PCGrad()),
    ('GradVac', lambda: tjd.GradVac(beta=0.5)),
])
def test_random_order_methods_equal_torchjd_with_the_same_draws(
        name, make_ref, global_seeds):
    # seeding torch's global RNG as the balancer does before each torchjd
    # call gives torchjd the same orders
    g = torch.Generator().manual_seed(1)
    ours, ref = b(name, num_tasks=4, seed=5), make_ref()
    seeds = global_seeds(5)
    for k in range(3):
        Jk = torch.randn(4, 30, dtype=F64, generator=g)
        Jk[1] = -Jk[0] + 0.3 * Jk[1]         # make sure some pairs conflict
        got = update(ours, Jk)
        torch.manual_seed(next(seeds))
        torch.testing.assert_close(got, ref(Jk), rtol=1e-7, atol=1e-7)


# ----------------------------------------------------------------------
# PCGrad
# ----------------------------------------------------------------------
def test_pcgrad_two_tasks_at_120_degrees_by_hand():
    # g1 = (1, 0), g2 = 2 (cos 120, sin 120) = (-1, sqrt 3): g1.g2 = -1
    s3 = math.sqrt(3)
    J = t([1.0, 0.0], [-1.0, s3])
    # g1' = g1 - (g1.g2 / |g2|^2) g2 = (1, 0) + (-1, sqrt 3) / 4
    #     = (0.75, sqrt(3)/4);  g2' = g2 - (g1.g2 / |g1|^2) g1 = (0, sqrt 3)
    want = t(0.75, s3 / 4 + s3)
    torch.testing.assert_close(update(b('PCGrad'), J), want)
    # each projected gradient is orthogonal to the other task's
    g1p, g2p = t(0.75, s3 / 4), t(0.0, s3)
    assert abs(float(g1p @ J[1])) < 1e-12 and abs(float(g2p @ J[0])) < 1e-12


def test_pcgrad_leaves_non_conflicting_gradients_alone():
    J = t([1.0, 0.0], [1.0, 1.0])             # g1.g2 = 1 > 0: plain sum
    torch.testing.assert_close(update(b('PCGrad'), J), t(2.0, 1.0))


def test_pcgrad_default_seed_is_mmengines():
    # no seed: torch's initial seed at build time, i.e. the one mmengine's
    # randomness.seed set (torch.manual_seed) before the wrapper is built
    torch.manual_seed(11)
    default, eleven, twelve = b('PCGrad'), b('PCGrad', seed=11), \
        b('PCGrad', seed=12)
    g = torch.Generator().manual_seed(0)
    differs = False
    for _ in range(6):
        J = torch.randn(4, 8, dtype=F64, generator=g)
        J[1] = -J[0] + 0.3 * J[1]
        want = update(eleven, J)
        torch.testing.assert_close(update(default, J), want)
        differs |= not torch.allclose(update(twelve, J), want)
    assert differs                  # the order (hence the seed) matters


# ----------------------------------------------------------------------
# GradVac
# ----------------------------------------------------------------------
def test_gradvac_three_steps_by_hand():
    beta = 0.5
    gv = b('GradVac', num_tasks=2, beta=beta, eps=0.0)
    conflict = t([1.0, 0.0], [-1.0, 1.0])     # cos = -1/sqrt 2
    # step 1: targets 0, so a pair with cos < 0 is projected as in PCGrad:
    # update (0.5, 0.5) + (0, 1) = (0.5, 1.5); targets -> beta * cos
    torch.testing.assert_close(update(gv, conflict), t(0.5, 1.5))
    phi = -1 / math.sqrt(2)
    phi_hat = beta * phi                                    # -0.353553
    torch.testing.assert_close(gv.weighting._phi_t,
                               t([0.0, phi_hat], [phi_hat, 0.0]))
    # step 2: orthogonal gradients, cos 0 > target: no change
    torch.testing.assert_close(update(gv, t([1.0, 0.0], [0.0, 1.0])),
                               t(1.0, 1.0))
    phi_hat = (1 - beta) * phi_hat                          # -0.176777
    # step 3: cos -0.7071 < target -0.1768: GradVac's correction
    #   g_i += |g_i| (phi_hat sqrt(1-phi^2) - phi sqrt(1-phi_hat^2))
    #          / (|g_j| sqrt(1-phi_hat^2)) g_j
    num = phi_hat * math.sqrt(1 - phi**2) - phi * math.sqrt(1 - phi_hat**2)
    den = math.sqrt(1 - phi_hat**2)
    g1, g2 = conflict
    a1 = 1.0 * num / (math.sqrt(2) * den)      # 0.410203
    a2 = math.sqrt(2) * num / (1.0 * den)      # 0.820406
    g1v, g2v = g1 + a1 * g2, g2 + a2 * g1
    # the corrected gradient has exactly the target similarity
    cos = float(g1v @ g2 / (g1v.norm() * g2.norm()))
    assert abs(cos - phi_hat) < 1e-12
    torch.testing.assert_close(update(gv, conflict), g1v + g2v)
    # = (a2 - a1, 1 + a1) = (0.410197, 1.410197)
    torch.testing.assert_close(g1v + g2v, t(0.410197, 1.410197), rtol=1e-5,
                               atol=1e-6)
    # targets: (1 - beta) * phi_hat + beta * phi = -0.441942
    torch.testing.assert_close(gv.weighting._phi_t[0, 1],
                               torch.tensor((1 - beta) * phi_hat + beta * phi,
                                            dtype=F64))


# ----------------------------------------------------------------------
# MGDA / MGDA-UB
# ----------------------------------------------------------------------
def test_mgda_opposite_gradients_give_no_update():
    J = t([1.0, 2.0], [-1.0, -2.0])
    assert update(b('MGDA'), J).norm() < 1e-3
    # MGDA-UB is MGDA, forced into the optim wrapper's feature mode
    ub = b('MGDAUB')
    assert ub.jacobian_mode == 'feature'
    assert update(ub, J).norm() < 1e-3
    assert getattr(b('MGDA'), 'jacobian_mode', None) is None


def test_mgda_two_tasks_closed_form():
    J = t([2.0, 0.0], [0.0, 1.0])
    # min-norm point of [g1, g2]: a = (g2.g2 - g1.g2) / |g1 - g2|^2 = 1/5;
    # d = a g1 + (1 - a) g2 = (0.4, 0.8)
    torch.testing.assert_close(update(b('MGDA', epsilon=1e-6, max_iters=1000),
                                      J), t(0.4, 0.8), atol=1e-3, rtol=1e-3)


# ----------------------------------------------------------------------
# UPGrad / DualProj
# ----------------------------------------------------------------------
def test_upgrad_by_hand():
    J = t([1.0, 0.0], [-1.0, 1.0])
    # pi(g1) = g1 - (g1.g2/|g2|^2) g2 = (0.5, 0.5), which has g1 . >= 0;
    # pi(g2) = g2 - (g1.g2/|g1|^2) g1 = (0, 1); mean = (0.25, 0.75)
    # (reg_eps=0: G is positive definite here, solve the exact QP)
    torch.testing.assert_close(update(b('UPGrad', reg_eps=0.0), J),
                               t(0.25, 0.75))
    # no conflict: every g_t is in the dual cone already -> the mean
    J = t([2.0, 0.0], [0.0, 1.0])
    torch.testing.assert_close(update(b('UPGrad', reg_eps=0.0), J),
                               t(1.0, 0.5))
    # the default regularisation (1e-4 of the normalised Gramian) moves it
    # only slightly
    torch.testing.assert_close(update(b('UPGrad'), J), t(1.0, 0.5),
                               atol=1e-3, rtol=1e-3)


def test_dualproj_by_hand():
    J = t([1.0, 0.0], [-3.0, 1.0])
    # mean (-1, 0.5) conflicts with g1 only: project it on g1.y = 0 ->
    # (0, 0.5), whose product with g2 is 0.5 >= 0, so it is the projection
    torch.testing.assert_close(update(b('DualProj', reg_eps=0.0), J),
                               t(0.0, 0.5))
    torch.testing.assert_close(update(b('DualProj'), J), t(0.0, 0.5),
                               atol=3e-3, rtol=3e-3)


@pytest.mark.parametrize('name', ['UPGrad', 'DualProj'])
def test_dual_cone_methods_never_conflict(J, name):
    J = J.clone()
    J[1] = -J[0] + 0.1 * J[2]                  # strong conflict
    assert (J @ J.mean(0) < 0).any()           # the mean does conflict
    g = update(b(name), J)
    # J g >= 0, up to the QP's regularisation (reg_eps = 1e-4 of trace G)
    tol = 1e-3 * J.norm(dim=1) * g.norm()
    assert (J @ g >= -tol).all()
    assert g.norm() > 0


# ----------------------------------------------------------------------
# CAGrad
# ----------------------------------------------------------------------
def test_cagrad_with_c_zero_is_the_mean(J):
    torch.testing.assert_close(update(b('CAGrad', c=0.0), J), J.mean(0),
                               rtol=1e-6, atol=1e-6)


def test_cagrad_symmetric_case_by_hand():
    # g1 = (1, 0), g2 = (0, 1): by symmetry w = (1/2, 1/2), g_w = g0, so
    # d = g0 + c |g0| g0 / |g0| = (1 + c) g0 = 1.5 * (0.5, 0.5)
    J = t([1.0, 0.0], [0.0, 1.0])
    torch.testing.assert_close(update(b('CAGrad', c=0.5), J), t(0.75, 0.75),
                               rtol=1e-4, atol=1e-5)


def test_cagrad_improves_the_worst_task_over_the_mean():
    J = t([1.0, 0.0], [-0.8, 0.3])
    d = update(b('CAGrad', c=0.5), J)
    g0 = J.mean(0)
    assert (J @ d).min() > (J @ g0).min()
    assert (d - g0).norm() <= 0.5 * g0.norm() + 1e-6      # in the ball


# ----------------------------------------------------------------------
# IMTL-G
# ----------------------------------------------------------------------
def test_imtlg_by_hand():
    # d = w1 (2, 0) + w2 (0, 1) with d.u1 = d.u2 and w1 + w2 = 1:
    # 2 w1 = w2 -> w = (1/3, 2/3), d = (2/3, 2/3)
    J = t([2.0, 0.0], [0.0, 1.0])
    torch.testing.assert_close(update(b('IMTLG'), J), t(2 / 3, 2 / 3))


def test_imtlg_equal_projections_on_unit_gradients(J):
    bal = b('IMTLG')
    w = bal(torch.ones(3, dtype=F64), J @ J.T)
    torch.testing.assert_close(w.sum(), torch.tensor(1.0, dtype=F64))
    proj = (J / J.norm(dim=1, keepdim=True)) @ (w @ J)
    torch.testing.assert_close(proj, proj[0].expand(3))


# ----------------------------------------------------------------------
# Aligned-MTL
# ----------------------------------------------------------------------
def test_aligned_mtl_by_hand():
    # G = diag(4, 1): V = I, B = sqrt(1) diag(1/2, 1); w = B (1/2, 1/2)
    # = (1/4, 1/2); update = (1/4)(2, 0) + (1/2)(0, 1) = (0.5, 0.5)
    J = t([2.0, 0.0], [0.0, 1.0])
    torch.testing.assert_close(update(b('AlignedMTL'), J), t(0.5, 0.5))


def test_aligned_mtl_gradients_have_condition_number_one(J):
    # the weights for preference e_t are the t-th column of B; the aligned
    # gradients B J have Gramian B G B = lambda_min I
    G = J @ J.T
    B = torch.stack([
        b('AlignedMTL', pref_vector=torch.eye(3)[k].tolist())(
            torch.ones(3, dtype=F64), G) for k in range(3)
    ], dim=1)
    lam_min = torch.linalg.eigvalsh(G).min()
    torch.testing.assert_close(B @ G @ B, lam_min * torch.eye(3, dtype=F64))


# ----------------------------------------------------------------------
# FairGrad / Nash-MTL
# ----------------------------------------------------------------------
@pytest.mark.parametrize('alpha', [1.0, 2.0])
def test_fairgrad_orthogonal_case_by_hand(alpha):
    # G = diag(4, 1): G w = w^{-1/alpha} -> w_t = G_tt^{-alpha/(1+alpha)}
    # alpha 1: w = (1/2, 1), update (1, 1);
    # alpha 2: w = (4^{-2/3}, 1) = (0.396850, 1), update (0.793701, 1)
    J = t([2.0, 0.0], [0.0, 1.0])
    w1 = 4.0**(-alpha / (1 + alpha))
    torch.testing.assert_close(
        update(b('FairGrad', alpha=alpha, update_scale='paper'), J),
        t(2 * w1, 1.0), rtol=1e-4, atol=1e-5)
    # the default rescales the same weights to sum to T = 2
    torch.testing.assert_close(update(b('FairGrad', alpha=alpha), J),
                               t(2 * w1, 1.0) * 2 / (w1 + 1), rtol=1e-4,
                               atol=1e-5)


def test_fairgrad_satisfies_its_optimality_condition(J):
    G = J @ J.T
    w = b('FairGrad', alpha=1.0, update_scale='paper')(
        torch.ones(3, dtype=F64), G)
    torch.testing.assert_close(G @ w, 1 / w, rtol=1e-4, atol=1e-5)


def test_nash_mtl_orthogonal_case_and_bargaining_condition(J):
    # G = diag(4, 1), no clipping: alpha_t (G alpha)_t = 1 -> (1/2, 1),
    # update (1, 1): both tasks improve equally
    n = b('NashMTL', num_tasks=2, max_norm=0.0, update_scale='paper')
    torch.testing.assert_close(update(n, t([2.0, 0.0], [0.0, 1.0])),
                               t(1.0, 1.0), rtol=1e-3, atol=1e-3)
    # the default: the same weights (1/2, 1) scaled to sum to 2
    torch.testing.assert_close(
        update(b('NashMTL', num_tasks=2), t([2.0, 0.0], [0.0, 1.0])),
        t(4 / 3, 4 / 3), rtol=1e-3, atol=1e-3)
    # random gradients: alpha * (G alpha) is the same for every task
    G = J @ J.T
    a = b('NashMTL', num_tasks=3, max_norm=0.0, update_scale='paper')(
        torch.ones(3, dtype=F64), G)
    prod = a * (G @ a)
    torch.testing.assert_close(prod, prod.mean().expand(3), rtol=1e-3,
                               atol=1e-6)
    # with clipping the update norm is at most max_norm
    g = update(b('NashMTL', num_tasks=3, max_norm=0.5,
                 update_scale='paper'), J)
    assert g.norm() <= 0.5 + 1e-6


# ----------------------------------------------------------------------
# ConFIG
# ----------------------------------------------------------------------
def test_config_by_hand():
    # u = (1, 0), (0, 1): d = U^+ 1 = (1, 1); unit (1, 1)/sqrt 2;
    # length = g1.unit + g2.unit = 3/sqrt 2 -> update (1.5, 1.5)
    J = t([2.0, 0.0], [0.0, 1.0])
    torch.testing.assert_close(update(b('ConFIG'), J), t(1.5, 1.5))
    # conflicting: u1 = (1, 0), u2 = (-1, 1)/sqrt 2; U d = 1 ->
    # d = (1, 1 + sqrt 2); unit = (0.382683, 0.923880);
    # length = g1.unit + g2.unit = 0.923880 -> (0.353553, 0.853553)
    J = t([1.0, 0.0], [-1.0, 1.0])
    g = update(b('ConFIG'), J)
    torch.testing.assert_close(g, t(0.353553, 0.853553), rtol=1e-5,
                               atol=1e-6)
    cos = (J / J.norm(dim=1, keepdim=True)) @ (g / g.norm())
    torch.testing.assert_close(cos[0], cos[1])          # equal, positive
    assert cos[0] > 0


def test_config_weights_are_unique_up_to_the_kernel_of_j():
    # linearly dependent gradients: G is singular, c is not unique, but
    # J^T c still equals torchjd's ConFIG on J
    g = torch.Generator().manual_seed(2)
    J = torch.randn(3, 20, dtype=F64, generator=g)
    J[2] = J[0] + 2 * J[1]
    torch.testing.assert_close(update(b('ConFIG'), J), tjd.ConFIG()(J),
                               rtol=1e-6, atol=1e-6)


# ----------------------------------------------------------------------
# the adapter
# ----------------------------------------------------------------------
def test_adapter_keeps_torchjd_out_of_the_module_tree():
    gv = b('GradVac', num_tasks=2)
    assert isinstance(gv, TorchJDWeighting)
    assert list(gv.children()) == []
    assert list(gv.parameters()) == []
    assert 'GradVacWeighting' in repr(gv)


def test_float32_gramian_and_preference_vector_mix():
    # the wrapper passes a float64 Gramian; a float32 one works as well
    J = t([2.0, 0.0], [0.0, 1.0]).float()
    for name in ('AlignedMTL', 'UPGrad', 'DualProj', 'ConFIG'):
        bal = b(name, pref_vector=[0.5, 0.5])
        w = bal(torch.ones(2), J @ J.T)
        assert w.dtype == torch.float32 and torch.isfinite(w).all(), name
