"""What the scale of the Gramian does to each Gramian method
(docs/balancers.md, "Scale"): the update's direction never depends on it,
and its norm follows the documented rule; Nash-MTL and FairGrad solve their
bargaining condition at every scale, and fall back (and say so) when their
solver fails."""
import math

import pytest
import torch

from mmmtl.balancers.aggregation import _bargaining, torchjd_adapter
from mmmtl.registry import build_balancer
from mtl_fixtures import captured_log

F64 = torch.float64
SCALES = [1e-8, 1e-4, 1e4]
# every TorchJDWeighting, with the options that give its rule
METHODS = {
    'MGDA': dict(), 'IMTLG': dict(), 'PCGrad': dict(), 'GradVac': dict(),
    'CAGrad': dict(), 'AlignedMTL': dict(), 'UPGrad': dict(),
    'DualProj': dict(), 'ConFIG': dict(), 'FairGrad': dict(),
    'NashMTL': dict(),
    # stateful: a fresh balancer's first step
    'SDMGrad': dict(), 'MoDo': dict(), 'CRMOGM': dict(),
}


def gramians():
    g = torch.Generator().manual_seed(0)
    J3 = torch.randn(3, 20, dtype=F64, generator=g)
    J3[1] = -0.6 * J3[0] + 0.8 * J3[1]           # a conflicting pair
    ortho = torch.tensor([[2.0, 0.0], [0.0, 0.5]], dtype=F64)
    conflict = torch.tensor([[1.0, 0.0], [-0.5, 0.4]], dtype=F64)
    return {'orthogonal': ortho @ ortho.T,
            'conflicting': conflict @ conflict.T, 'random3': J3 @ J3.T / 20}


def weigh(method, gramian, **kw):
    bal = build_balancer(dict(type=method, num_tasks=gramian.shape[0], **kw))
    return bal(torch.ones(gramian.shape[0], dtype=F64), gramian)


def norm(w, gramian):
    """|J^T w|."""
    return float(w @ gramian @ w)**0.5


def cosine(w1, w2, gramian):
    """cos(J^T w1, J^T w2), both on the same gradients."""
    return float(w1 @ gramian @ w2) / (norm(w1, gramian) * norm(w2, gramian))


@pytest.mark.parametrize('scale', SCALES)
@pytest.mark.parametrize('case', sorted(gramians()))
@pytest.mark.parametrize('method', sorted(METHODS))
def test_direction_kept_and_norm_scales_with_the_gradients(method, case,
                                                           scale):
    # every default scale keeps the weights' scale (degree 0), so the update
    # J^T w grows with the gradients, sqrt(scale), as equal weighting's
    G = gramians()[case]
    w1 = weigh(method, G, **METHODS[method])
    wc = weigh(method, scale * G, **METHODS[method])
    assert torch.isfinite(wc).all() and wc.abs().sum() > 0, wc
    # the scaled gradients are sqrt(c) J: same directions, so the update's
    # cosine is computed on G with the weights as they are
    assert cosine(wc, w1, G) > 1 - 1e-6, (wc, w1)
    assert norm(wc, scale * G) == pytest.approx(
        math.sqrt(scale) * norm(w1, G), rel=1e-5)


@pytest.mark.parametrize('scale', [1e-8, 1e4])
@pytest.mark.parametrize('case', sorted(gramians()))
def test_nash_mtl_paper_scale_solves_g_a_equals_1_over_a(case, scale):
    # the paper's weights on c G: positive, G a = 1/a, so a = a(G)/sqrt(c)
    # and the update has norm sqrt(T) at every scale (no clipping here)
    G = gramians()[case]
    a1 = weigh('NashMTL', G, update_scale='paper', max_norm=0.0)
    a = weigh('NashMTL', scale * G, update_scale='paper', max_norm=0.0)
    assert (a > 0).all(), a
    torch.testing.assert_close((scale * G) @ a, 1 / a, rtol=1e-3, atol=0)
    torch.testing.assert_close(a, a1 / math.sqrt(scale), rtol=1e-5, atol=0)
    assert cosine(a, a1, G) > 1 - 1e-6
    assert norm(a, scale * G) == pytest.approx(math.sqrt(len(a)), rel=1e-3)
    # clipped (the authors' max_norm = 1): same direction, norm 1
    clipped = weigh('NashMTL', scale * G, update_scale='paper')
    assert norm(clipped, scale * G) == pytest.approx(1.0, rel=1e-6)
    assert cosine(clipped, a1, G) > 1 - 1e-6


@pytest.mark.parametrize('alpha', [1.0, 2.0])
@pytest.mark.parametrize('scale', [1e-8, 1e4])
def test_fairgrad_paper_scale_solves_its_condition(alpha, scale):
    G = gramians()['random3']
    w = weigh('FairGrad', scale * G, alpha=alpha, update_scale='paper')
    assert (w > 0).all()
    torch.testing.assert_close((scale * G) @ w, w.pow(-1 / alpha), rtol=1e-3,
                               atol=0)
    # w(cG) = c^(-alpha/(1+alpha)) w(G)
    w1 = weigh('FairGrad', G, alpha=alpha, update_scale='paper')
    torch.testing.assert_close(w, w1 * scale**(-alpha / (1 + alpha)),
                               rtol=1e-5, atol=0)


# CR-MOGM takes update_scale in the config of the method it wraps
@pytest.mark.parametrize('method', sorted(set(METHODS) - {'CRMOGM'}))
def test_update_scale_options(method):
    G = gramians()['random3'] * 1e-6
    paper = weigh(method, G, update_scale='paper')
    summed = weigh(method, G, update_scale='sum')
    matched = weigh(method, G, update_scale='norm')
    if float(paper.sum()) > 0:
        assert float(summed.sum()) == pytest.approx(3.0, rel=1e-9)
        assert cosine(summed, paper, G) > 1 - 1e-9
    # 'norm': the update has equal weighting's norm |J^T 1|
    assert norm(matched, G) == pytest.approx(float(G.sum())**0.5, rel=1e-9)
    assert cosine(matched, paper, G) > 1 - 1e-9
    with pytest.raises(ValueError, match=f'{method}: update_scale'):
        build_balancer(dict(type=method, num_tasks=3, update_scale='adam'))


def test_rescaling_leaves_weights_it_cannot_rescale():
    # weights summing to 0, a zero update: no factor to apply
    G = gramians()['orthogonal']
    w = torch.tensor([1.0, -1.0], dtype=F64)
    assert torch.equal(torchjd_adapter.rescale_weights(w, G, 'sum'), w)
    zero = torch.zeros(2, dtype=F64)
    assert torch.equal(torchjd_adapter.rescale_weights(zero, G, 'norm'),
                       zero)


def test_nash_mtl_and_fairgrad_default_weights_sum_to_the_task_count():
    G = gramians()['orthogonal'] * 1e-7           # feature-mode size
    for method in ('NashMTL', 'FairGrad'):
        w = weigh(method, G)
        # orthogonal: a_t = 1/|g_t| = (1/2, 2) / sqrt(1e-7), scaled to sum 2
        torch.testing.assert_close(w, torch.tensor([0.4, 1.6], dtype=F64),
                                   rtol=1e-4, atol=0)


@pytest.fixture
def said(monkeypatch):
    return captured_log(monkeypatch)


def test_nash_mtl_falls_back_when_the_convex_steps_fail_and_says_so(said):
    # conflicting gradients: from torchjd's all-ones start (G 1)_2 < 0, the
    # convex approximations fail and return the start (weights (1, 1))
    G = gramians()['conflicting']
    assert (G @ torch.ones(2, dtype=F64) < 0).any()
    a = weigh('NashMTL', G, update_scale='paper', max_norm=0.0)
    torch.testing.assert_close(G @ a, 1 / a, rtol=1e-6, atol=0)
    assert len(said) == 1 and 'NashMTL' in said[0] and 'Newton' in said[0]


def test_nash_mtl_recovers_from_a_zero_in_its_warm_start(said):
    # the demo's failure: once a weight came out 0, every later solve
    # started from it (1/0 in the linearisation) and kept the task at 0
    bal = build_balancer(dict(type='NashMTL', num_tasks=2,
                              update_scale='paper', max_norm=0.0))
    G = gramians()['orthogonal']
    bal(torch.ones(2, dtype=F64), G)
    torchjd_adapter.set_nash_mtl_start(bal.weighting,
                                       torch.tensor([1.0, 0.0]))
    for _ in range(3):
        a = bal(torch.ones(2, dtype=F64), G)
        torch.testing.assert_close(a, torch.tensor([0.5, 2.0], dtype=F64),
                                   rtol=1e-3, atol=0)
    assert len(said) <= 1


def test_fairgrad_falls_back_when_its_solver_fails(said):
    bal = build_balancer(dict(type='FairGrad', update_scale='paper'))
    # a solver that gives up: zero weights
    object.__setattr__(bal, 'weighting', lambda g: torch.zeros(len(g),
                                                               dtype=g.dtype))
    G = gramians()['random3']
    w = bal(torch.ones(3, dtype=F64), G)
    torch.testing.assert_close(G @ w, 1 / w, rtol=1e-6, atol=0)
    assert len(said) == 1 and 'FairGrad' in said[0]


@pytest.mark.parametrize('alpha', [0.5, 1.0, 3.0])
def test_solve_bargaining(alpha):
    # orthogonal: w_t = G_tt^(-alpha/(1+alpha))
    G = torch.diag(torch.tensor([4.0, 0.25, 1e-3], dtype=F64))
    w = _bargaining.solve_bargaining(G, alpha)
    torch.testing.assert_close(w, G.diagonal().pow(-alpha / (1 + alpha)))
    G = gramians()['random3']
    w = _bargaining.solve_bargaining(G, alpha)
    assert _bargaining.bargaining_residual(G, w, alpha) < 1e-9
    # from a bad start too
    w = _bargaining.solve_bargaining(G, alpha, start=torch.tensor(
        [1e-6, 1e3, 0.0], dtype=F64))
    assert _bargaining.bargaining_residual(G, w, alpha) < 1e-9
