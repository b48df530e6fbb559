"""Gradient methods: ours (from the Gramian) against torchjd on the full
Jacobian, and each paper's behaviour on conflicting gradients."""
import numpy as np
import pytest
import torch
import torchjd.aggregation as tjd

from mmmtl.balancers import gramian_factor
from mmmtl.registry import build_balancer


def b(type_, **kw):
    return build_balancer(dict(type=type_, **kw))


def update(method, J, losses=None, **kw):
    bal = b(method, num_tasks=J.shape[0], **kw)
    losses = torch.ones(J.shape[0]) if losses is None else losses
    if bal.requires == 'jacobian':
        return bal.aggregate(losses, J)
    w = bal.weigh(losses, J @ J.T)
    return w.to(J) @ J


@pytest.fixture
def J():
    torch.manual_seed(0)
    return torch.randn(3, 50, dtype=torch.float64)


def test_gramian_factor_reproduces_the_gramian(J):
    G = J @ J.T
    M = gramian_factor(G)
    assert M.shape == (3, 3)
    torch.testing.assert_close(M @ M.T, G)


# methods whose torchjd Aggregator on the full Jacobian we must reproduce
# from the Gramian alone
SAME_AS_TORCHJD = {
    'MGDA': lambda: tjd.MGDA(),
    'IMTLG': lambda: tjd.IMTLG(),
    'AlignedMTL': lambda: tjd.AlignedMTL(),
    'UPGrad': lambda: tjd.UPGrad(),
    'DualProj': lambda: tjd.DualProj(),
    'CAGrad': lambda: tjd.CAGrad(c=0.4),
    'FairGrad': lambda: tjd.FairGrad(alpha=1.0),
    'ConFIG': lambda: tjd.ConFIG(),
    'NashMTL': lambda: tjd.NashMTL(n_tasks=3),
}


@pytest.mark.parametrize('method', sorted(SAME_AS_TORCHJD))
def test_ours_from_gramian_equals_torchjd_on_jacobian(J, method):
    J32 = J.float()
    want = SAME_AS_TORCHJD[method]()(J32)
    got = update(method, J32)
    torch.testing.assert_close(got, want, rtol=2e-4, atol=2e-5)


def test_pcgrad_two_tasks_by_hand():
    # g1 = (1, 0), g2 = (-1, 1): conflict (g1.g2 = -1)
    J = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])
    # g1' = g1 - (-1/2) g2 = (0.5, 0.5); g2' = g2 - (-1/1) g1 = (0, 1)
    torch.testing.assert_close(update('PCGrad', J), torch.tensor([0.5, 1.5]))
    # no conflict: plain sum
    J = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    torch.testing.assert_close(update('PCGrad', J), torch.tensor([2.0, 1.0]))


def test_mgda_opposite_gradients_give_no_update():
    J = torch.tensor([[1.0, 2.0], [-1.0, -2.0]])
    assert update('MGDA', J).norm() < 1e-3
    # MGDA-UB is MGDA, forced to feature mode
    assert b('MGDAUB').jacobian_mode == 'feature'


def test_mgda_two_tasks_closed_form():
    J = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    # min-norm point of segment [g1, g2]: a = (g2.g2 - g1.g2)/|g1 - g2|^2
    a = 1.0 / 5.0
    torch.testing.assert_close(update('MGDA', J),
                               a * J[0] + (1 - a) * J[1], atol=1e-3,
                               rtol=1e-3)


def test_upgrad_and_dualproj_never_conflict(J):
    J = J.float()
    J[1] = -J[0] + 0.1 * J[2]      # strong conflict
    for method in ('UPGrad', 'DualProj'):
        g = update(method, J)
        # J g >= 0 up to the QP solver's float32 tolerance
        tol = 1e-3 * J.norm(dim=1) * g.norm()
        assert (J @ g >= -tol).all(), method
    # while the mean does conflict with task 1
    assert (J @ J.mean(0))[1] < 0


def test_cagrad_with_c_zero_is_the_mean(J):
    J = J.float()
    torch.testing.assert_close(update('CAGrad', J, c=0.0), J.mean(0),
                               rtol=1e-4, atol=1e-5)


def test_imtlg_equal_projections_on_unit_gradients(J):
    J = J.float()
    g = update('IMTLG', J)
    u = J / J.norm(dim=1, keepdim=True)
    proj = u @ g
    torch.testing.assert_close(proj, proj[0].expand(3), rtol=1e-4,
                               atol=1e-5)


def test_gradvac_state_round_trip_and_behaviour():
    torch.manual_seed(0)
    J = torch.tensor([[1.0, 0.0], [0.6, 0.8]])      # cos 0.6
    gv = b('GradVac', num_tasks=2, beta=0.5)
    for _ in range(3):
        gv.weigh(torch.ones(2), J @ J.T)
    state = gv.state_dict()
    fresh = b('GradVac', num_tasks=2, beta=0.5)
    fresh.load_state_dict(state)
    torch.testing.assert_close(fresh.weighting._phi_t,
                               gv.weighting._phi_t)
    # targets have moved toward the observed similarity 0.6
    assert 0.4 < float(gv.weighting._phi_t[0, 1]) <= 0.6
    # a pair less similar than its target gets pulled together
    J2 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])     # cos 0 < target
    w = fresh.weigh(torch.ones(2), J2 @ J2.T)
    assert (w > 1).all()


def test_nash_state_round_trip(J):
    J = J.float()
    n = b('NashMTL', num_tasks=3)
    n.weigh(torch.ones(3), J @ J.T)
    m = b('NashMTL', num_tasks=3)
    m.load_state_dict(n.state_dict())
    torch.testing.assert_close(m.weigh(torch.ones(3), J @ J.T),
                               n.weigh(torch.ones(3), J @ J.T))


def test_graddrop_keeps_one_sign_per_coordinate():
    torch.manual_seed(0)
    J = torch.tensor([[1.0, 2.0, -1.0], [3.0, -2.0, -1.0]])
    g = update('GradDrop', J)
    # coordinate 0: both positive -> sum 4; coordinate 2: both negative
    assert g[0] == 4.0 and g[2] == -2.0
    # coordinate 1: one sign is dropped -> 2 or -2, never their sum 0
    assert g[1] in (2.0, -2.0)


def test_dbmtl_by_hand():
    d = b('DBMTL', num_tasks=2, beta=0.9, beta_sigma=0.5)
    J = torch.tensor([[2.0, 0.0], [0.0, 4.0]])
    losses = torch.tensor([2.0, 1.0])
    # step 1: ghat = J / L = ((1, 0), (0, 4)); norms 1, 4; scale (4, 1)
    g = d.aggregate(losses, J)
    torch.testing.assert_close(g, torch.tensor([4.0, 4.0]), rtol=1e-5,
                               atol=1e-6)
    # step 2: beta_2 = 0.9 / sqrt(2); ghat = b ghat + (1 - b) J2/L
    J2 = torch.tensor([[0.0, 2.0], [2.0, 0.0]])
    beta = 0.9 / 2**0.5
    ema = beta * torch.tensor([[1.0, 0.0], [0.0, 4.0]]) + (1 - beta) * \
        J2 / losses[:, None]
    norms = ema.norm(dim=1)
    want = (norms.max() / norms) @ ema
    torch.testing.assert_close(d.aggregate(losses, J2), want, rtol=1e-5,
                               atol=1e-6)
    fresh = b('DBMTL', num_tasks=2)
    fresh.load_state_dict(d.state_dict())
    torch.testing.assert_close(fresh.ema, d.ema)


def test_missing_solver_names_the_extra(monkeypatch):
    import torchjd._mixins as mixins
    real = mixins.find_spec
    monkeypatch.setattr(mixins, 'find_spec',
                        lambda name: None if name == 'cvxpy' else real(name))
    with pytest.raises(ImportError, match=r'CAGrad.*mmmtl\[solvers\]'):
        b('CAGrad', num_tasks=2)
    with pytest.raises(ImportError, match=r'NashMTL.*mmmtl\[solvers\]'):
        b('NashMTL', num_tasks=2)
