"""The cheaper mode of every Gramian method: weights computed every k steps
and reused in between (GramianWeighting's recompute_every)."""
import io

import pytest
import torch

from mmmtl.balancers import GramianWeighting
from mmmtl.registry import BALANCERS, build_balancer

F64 = torch.float64
GRAMIAN_METHODS = sorted(
    name for name, cls in BALANCERS.module_dict.items()
    if issubclass(cls, GramianWeighting))


def steps(n, t=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    for _ in range(n):
        J = torch.randn(t, 10, dtype=F64, generator=g)
        J[1] = -J[0] + 0.3 * J[1]
        yield torch.rand(t, dtype=F64, generator=g) + 0.5, J @ J.T


def test_every_gramian_method_is_covered():
    assert {'MGDA', 'UPGrad', 'NashMTL', 'GradNorm', 'CRMOGM', 'SDMGrad',
            'MoDo'} <= set(GRAMIAN_METHODS)


@pytest.mark.parametrize('name', GRAMIAN_METHODS)
def test_weights_are_reused_between_recomputes(name):
    bal = build_balancer(dict(type=name, num_tasks=3, recompute_every=3))
    schedule, weights = [], []
    for k, (losses, G) in enumerate(steps(7)):
        now = bal.recomputes_now(3)
        schedule.append(now)
        # on a reuse step the Gramian is not needed
        weights.append(bal(losses, G if now else None))
    assert schedule == [True, False, False, True, False, False, True]
    for k in (1, 2):
        assert torch.equal(weights[k], weights[0]), name
    for k in (4, 5):
        assert torch.equal(weights[k], weights[3]), name


def test_recompute_steps_are_the_methods_own_weights():
    # a stateless method: the plain method's weights on those steps
    cheap = build_balancer(dict(type='IMTLG', recompute_every=2))
    plain = build_balancer(dict(type='IMTLG'))
    for k, (losses, G) in enumerate(steps(5)):
        got = cheap(losses, G)
        if k % 2 == 0:
            torch.testing.assert_close(got, plain(losses, G))
            last = got
        else:
            assert torch.equal(got, last)
    # a stateful one: its state moves on recompute steps only
    cheap = build_balancer(dict(type='MoDo', recompute_every=2))
    plain = build_balancer(dict(type='MoDo'))
    for k, (losses, G) in enumerate(steps(6)):
        got = cheap(losses, G)
        if k % 2 == 0:
            torch.testing.assert_close(got, plain(losses, G))


def test_state_is_saved_mid_period():
    bal = build_balancer(dict(type='MoDo', recompute_every=3))
    data = list(steps(7))
    for losses, G in data[:2]:                   # compute, then reuse once
        bal(losses, G)
    buf = io.BytesIO()
    torch.save(bal.state_dict(), buf)
    buf.seek(0)
    restored = build_balancer(dict(type='MoDo', recompute_every=3))
    restored.load_state_dict(torch.load(buf, weights_only=True))
    for losses, G in data[2:]:
        assert restored.recomputes_now(3) == bal.recomputes_now(3)
        torch.testing.assert_close(restored(losses, G), bal(losses, G))


def test_a_change_in_the_task_count_recomputes():
    bal = build_balancer(dict(type='MGDA', recompute_every=5))
    (losses, G), = steps(1)
    bal(losses, G)
    assert not bal.recomputes_now(3)
    assert bal.recomputes_now(2)
    assert bal(losses[:2], G[:2, :2]).shape == (2, )


def test_bad_values_are_named():
    with pytest.raises(ValueError, match='UPGrad: recompute_every'):
        build_balancer(dict(type='UPGrad', recompute_every=0))
    bal = build_balancer(dict(type='MGDA', recompute_every=2))
    with pytest.raises(ValueError, match='MGDA .*needs the Gramian'):
        bal(torch.ones(2))
