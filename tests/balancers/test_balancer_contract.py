"""What every balancer owes the optim wrapper: registration, any number of
tasks, clear errors, checkpointed state, optional solvers."""
import io

import pytest
import torch

import mmmtl.balancers.aggregation.torchjd_adapter as adapter
from mmmtl.balancers import (Balancer, GramianWeighting, JacobianAggregator,
                             LossWeighting)
from mmmtl.registry import BALANCERS, build_balancer

F64 = torch.float64

# name -> extra config (hyper-parameters chosen so that the state matters
# within a few steps)
METHODS = {
    'StaticWeighting': dict(),
    'EqualWeighting': dict(),
    'UncertaintyWeighting': dict(),
    'DWA': dict(interval=2),
    'RLW': dict(),
    'GLS': dict(),
    'FAMO': dict(w_lr=0.1),
    'GradNorm': dict(lr=0.1),
    'PCGrad': dict(),
    'GradVac': dict(),
    'CAGrad': dict(),
    'MGDA': dict(),
    'MGDAUB': dict(),
    'IMTLG': dict(),
    'AlignedMTL': dict(),
    'UPGrad': dict(),
    'DualProj': dict(),
    'FairGrad': dict(),
    'NashMTL': dict(update_weights_every=2),
    'ConFIG': dict(),
    'GradDrop': dict(seed=3),
    'DBMTL': dict(),
    'STCH': dict(),
    'IMTLL': dict(),
    'SDMGrad': dict(n_iter=1),      # warm start matters
    'MoDo': dict(),
    'CRMOGM': dict(),
    'ExcessMTL': dict(),
    'MoCo': dict(),
}
# methods whose output depends on what they saw before
STATEFUL = {
    'UncertaintyWeighting', 'DWA', 'RLW', 'FAMO', 'GradNorm', 'PCGrad',
    'GradVac', 'NashMTL', 'GradDrop', 'DBMTL', 'SDMGrad', 'MoDo', 'CRMOGM',
    'ExcessMTL', 'MoCo'
}
NEEDS_NUM_TASKS = {
    'UncertaintyWeighting', 'DWA', 'FAMO', 'GradNorm', 'NashMTL', 'IMTLL'
}


def make(name, num_tasks, **kw):
    return build_balancer(dict(type=name, num_tasks=num_tasks,
                               **METHODS[name], **kw))


def inputs(num_tasks, step, p=12):
    """Losses and a Jacobian with conflicting rows, different each step."""
    g = torch.Generator().manual_seed(100 + step)
    J = torch.randn(num_tasks, p, dtype=F64, generator=g)
    J[1] = -J[0] + 0.3 * J[1]
    losses = torch.rand(num_tasks, dtype=F64, generator=g) + 0.5
    return losses, J


def run(bal, losses, J):
    """One step as the optim wrapper runs it; returns the shared update."""
    if bal.requires == 'losses':
        w = bal(losses)
        return w.detach() @ J
    if bal.requires == 'gramian':
        return bal(losses, J @ J.T) @ J
    return bal(losses, J)


def test_registered_names():
    expected = set(METHODS)
    assert expected <= set(BALANCERS.module_dict)
    for name in expected:
        cls = BALANCERS.get(name)
        assert issubclass(cls, Balancer), name
        assert cls.__doc__ and 'arXiv' in cls.__doc__ or name in (
            'StaticWeighting', 'EqualWeighting', 'IMTLG', 'IMTLL',
            'CRMOGM'), name
    assert issubclass(BALANCERS.get('GradNorm'), GramianWeighting)
    assert BALANCERS.get('GradNorm').weights_heads
    for name in ('GradDrop', 'DBMTL'):
        assert issubclass(BALANCERS.get(name), JacobianAggregator)
    for name in ('UncertaintyWeighting', 'DWA', 'RLW', 'GLS', 'FAMO'):
        assert issubclass(BALANCERS.get(name), LossWeighting)


@pytest.mark.parametrize('num_tasks', [2, 3, 5])
@pytest.mark.parametrize('name', sorted(METHODS))
def test_any_number_of_tasks(name, num_tasks):
    bal = make(name, num_tasks)
    for step in range(3):
        losses, J = inputs(num_tasks, step)
        if bal.requires == 'jacobian':
            out = bal(losses, J)
            assert out.shape == (J.shape[1], )
        elif bal.requires == 'gramian':
            out = bal(losses, J @ J.T)
            assert out.shape == (num_tasks, )
        else:
            out = bal(losses)
            assert out.shape == (num_tasks, )
        assert torch.isfinite(out).all(), (name, step)
        assert not out.requires_grad or name == 'UncertaintyWeighting'


@pytest.mark.parametrize('name', sorted(METHODS))
def test_wrong_number_of_losses_names_the_method(name):
    bal = make(name, 2)
    losses, J = inputs(3, 0)
    with pytest.raises(ValueError, match=f'{name}.*2 tasks.*3 losses'):
        run(bal, losses, J)


@pytest.mark.parametrize('name', sorted(NEEDS_NUM_TASKS))
def test_methods_with_per_task_state_need_num_tasks(name):
    with pytest.raises(ValueError, match=f'{name}.*`num_tasks`'):
        build_balancer(dict(type=name, **METHODS[name]))


@pytest.mark.parametrize('name', sorted(set(METHODS) - NEEDS_NUM_TASKS))
def test_stateless_or_lazy_methods_build_without_num_tasks(name):
    bal = build_balancer(dict(type=name, **METHODS[name]))
    losses, J = inputs(3, 0)
    assert torch.isfinite(run(bal, losses, J)).all()


@pytest.mark.parametrize('name', sorted(
    n for n in METHODS if BALANCERS.get(n).requires == 'gramian'))
def test_gramian_of_the_wrong_shape_names_the_method(name):
    bal = make(name, 3)
    losses, J = inputs(3, 0)
    with pytest.raises(ValueError, match=f'{name}.*3 x 3 Gramian'):
        bal(losses, torch.eye(2, dtype=F64))


def _saved_and_loaded(state_dict):
    """A state dict through torch.save / torch.load(weights_only=True), as
    a checkpoint is."""
    buf = io.BytesIO()
    torch.save(state_dict, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


@pytest.mark.parametrize('name', sorted(METHODS))
def test_state_dict_round_trip_restores_behaviour(name):
    T = 3
    bal = make(name, T)
    if name == 'UncertaintyWeighting':
        with torch.no_grad():                 # as if trained
            bal.log_vars.copy_(torch.tensor([0.3, -0.2, 0.5]))
    for step in range(5):
        run(bal, *inputs(T, step))
    state = _saved_and_loaded(bal.state_dict())
    restored = make(name, T)
    restored.load_state_dict(state)            # strict
    untouched = make(name, T)
    differs = False
    for step in range(5, 9):
        losses, J = inputs(T, step)
        want = run(bal, losses, J)
        torch.testing.assert_close(run(restored, losses, J), want,
                                   rtol=1e-6, atol=1e-8)
        differs |= not torch.allclose(run(untouched, losses, J), want)
    # the state did matter (else this test would prove nothing)
    assert differs == (name in STATEFUL), name


def test_fresh_stateful_balancers_load_a_checkpoint_of_a_fresh_one():
    # loading the state of a balancer that never ran (e.g. a checkpoint
    # written before the first step) works too
    for name in STATEFUL:
        state = _saved_and_loaded(make(name, 2).state_dict())
        make(name, 2).load_state_dict(state)


@pytest.mark.parametrize('hidden,names', [
    ('cvxpy', ['CAGrad', 'NashMTL']),
    ('ecos', ['NashMTL']),
    ('quadprog', ['UPGrad', 'DualProj']),
    ('scipy', ['FairGrad']),
])
def test_missing_solver_names_the_extra(monkeypatch, hidden, names):
    real = adapter.find_spec
    monkeypatch.setattr(adapter, 'find_spec',
                        lambda mod: None if mod == hidden else real(mod))
    for name in names:
        with pytest.raises(ImportError,
                           match=rf'{name} needs {hidden}.*'
                           rf'pip install "mmmtl\[solvers\]"'):
            make(name, 2)
    make('MGDA', 2)                            # needs no solver


def test_torchjd_own_dependency_check_is_reworded():
    # a dependency only torchjd checks (its ImportError at construction)
    # still names mmmtl's extra
    class Needy(adapter.TorchJDWeighting):

        def __init__(self):
            super().__init__()

            def make():
                raise ImportError("Needy requires ['clarabel'] to be "
                                  "installed.")

            self._build(make)

    with pytest.raises(ImportError,
                       match=r'Needy.*clarabel.*mmmtl\[solvers\]'):
        Needy()


def test_changed_torchjd_private_api_names_both_versions():
    # GradVac's state lives in torchjd's private attributes: a torchjd
    # object without them (as after an API change) gives an error naming
    # the installed torchjd and the one mmmtl was written for
    import torchjd.aggregation as tjd
    bal = make('GradVac', 2)
    object.__setattr__(bal, 'weighting', tjd.MeanWeighting())
    with pytest.raises(RuntimeError) as err:
        bal.state_dict()
    msg = str(err.value)
    assert 'torchjd 0.18.x' in msg and adapter.torchjd_version() in msg


def test_inputs_are_checked_detached_and_cast_once():
    losses = torch.tensor([1.0, 2.0], requires_grad=True)
    J = torch.tensor([[1.0, 0.0], [0.5, 1.0]])
    # Gramian methods: solved in float64, weights in the losses' dtype
    w = make('IMTLG', 2)(losses, J @ J.T)
    assert w.dtype == torch.float32 and not w.requires_grad
    # loss weightings: the losses' dtype; learnable weights keep their grad
    w = make('UncertaintyWeighting', 2)(losses.double())
    assert w.dtype == F64 and w.requires_grad
    assert not make('GLS', 2)(losses).requires_grad
    # Jacobian aggregators: the Jacobian's dtype
    assert make('DBMTL', 2)(losses, J.double()).dtype == F64
    with pytest.raises(ValueError, match='DBMTL expects a 2 x P Jacobian'):
        make('DBMTL', 2)(losses, J[0])
    with pytest.raises(ValueError, match='IMTLG expects a 1-D tensor'):
        make('IMTLG', 2)(losses[None], J @ J.T)


def test_task_positions_are_checked():
    bal = make('StaticWeighting', 3, weights=[1.0, 2.0, 3.0])
    assert bal(torch.ones(2), tasks=[2, 0]).tolist() == [3.0, 1.0]
    assert bal(torch.ones(3), tasks=[0, 1, 2]).tolist() == [1.0, 2.0, 3.0]
    for tasks in ([1, 1], [0, 3], [-1, 0]):
        with pytest.raises(ValueError, match='StaticWeighting: task pos'):
            bal(torch.ones(2), tasks=tasks)
    with pytest.raises(ValueError, match='FAMO was built for 2 tasks but '
                       'got 1 losses'):
        make('FAMO', 2)(torch.ones(1), tasks=[1])


def test_a_hook_returning_the_wrong_shape_is_named():

    class Broken(LossWeighting):

        def weigh(self, losses, tasks=None):
            return torch.ones(losses.numel() + 1)

    with pytest.raises(RuntimeError, match=r'Broken returned weights of '
                       r'shape \(3,\), expected \(2,\)'):
        Broken()(torch.ones(2))


def test_the_jacobian_mode_a_method_is_meant_for():
    assert Balancer.jacobian_mode is None
    assert BALANCERS.get('MGDA').jacobian_mode is None
    assert BALANCERS.get('MGDAUB').jacobian_mode == 'feature'
    assert BALANCERS.get('DBMTL').jacobian_mode == 'parameter'


@pytest.mark.parametrize('name', ['PCGrad', 'GradVac', 'RLW', 'GradDrop'])
def test_seeded_draws_leave_the_global_random_stream_alone(name):
    bal = make(name, 3)
    state = torch.get_rng_state()
    for step in range(3):
        run(bal, *inputs(3, step))
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
@pytest.mark.parametrize('name', sorted(METHODS))
def test_cpu_balancer_with_cuda_inputs(name):
    # the optim wrapper leaves the balancer where it was built (CPU) and
    # hands it losses and Gramians/Jacobians on the model's device
    bal = make(name, 3)
    for step in range(3):
        losses, J = inputs(3, step)
        want = run(make(name, 3), losses, J) if name not in STATEFUL \
            else None
        out = run(bal, losses.cuda(), J.cuda())
        assert out.device.type == 'cuda' and torch.isfinite(out).all()
        if want is not None and name not in ('GradDrop', ):
            torch.testing.assert_close(out.cpu(), want, rtol=1e-5,
                                       atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
@pytest.mark.parametrize('name', sorted(STATEFUL))
def test_state_saved_on_cuda_resumes_from_a_cpu_checkpoint(name):
    # a checkpoint loaded onto the CPU, the run resumed on CUDA inputs
    bal = make(name, 3)
    for step in range(3):
        run(bal, *(x.cuda() for x in inputs(3, step)))
    buf = io.BytesIO()
    torch.save(bal.state_dict(), buf)
    buf.seek(0)
    restored = make(name, 3)
    restored.load_state_dict(torch.load(buf, weights_only=True,
                                        map_location='cpu'))
    for step in range(3, 5):
        losses, J = (x.cuda() for x in inputs(3, step))
        torch.testing.assert_close(run(restored, losses, J),
                                   run(bal, losses, J), rtol=1e-6,
                                   atol=1e-8)
