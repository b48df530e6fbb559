"""MultiTaskOptimWrapper: the update each kind of balancer asks for.

The balancers here are test-local with simple, known rules, so the checks
are on the wrapper's machinery: which gradients reach which parameters.
"""
import copy

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.optim import build_optim_wrapper

from mmmtl.balancers import GramianWeighting, LossWeighting
from mmmtl.models import SharedFeatures
from mtl_fixtures import (captured_log, random_batch, tiny_model_cfg,
                          without_seg_labels)


# Test balancers are not registered (a registry is global state): the
# configs below give the class itself as ``type``, which mmengine builds.
class _TestLossWeights(LossWeighting):
    """w = (1, 2, ...)."""

    def weigh(self, losses, tasks=None):
        return torch.arange(1, len(losses) + 1, dtype=losses.dtype)


class _TestGramianWeights(GramianWeighting):
    """w_t = 1 / ||g_t|| (normalised gradients): depends on the Gramian."""

    last_gramian = None

    def weigh(self, losses, gramian):
        type(self).last_gramian = gramian.clone()
        return 1.0 / gramian.diagonal().sqrt()


class _TestGivenWeights(GramianWeighting):
    """The weights it was given (None: ones), on every step (the Gramian
    is computed)."""

    def __init__(self, weights=None, **kwargs):
        super().__init__(**kwargs)
        self.given = None if weights is None else torch.tensor(weights)

    def weigh(self, losses, gramian):
        if self.given is None:
            return torch.ones_like(losses)
        return self.given.to(losses.dtype)


@pytest.fixture(scope='module')
def batch():
    return random_batch(3)


def _model():
    torch.manual_seed(0)
    cfg = tiny_model_cfg()
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def _wrapper(model, balancer, **kwargs):
    return build_optim_wrapper(model, dict(
        type='MultiTaskOptimWrapper',
        constructor='MultiTaskOptimWrapperConstructor',
        optimizer=dict(type='SGD', lr=0.0),
        balancer=balancer if isinstance(balancer, dict)
        else dict(type=balancer), **kwargs))


def _task_losses(model, batch):
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    feats = model.extract_feat(data['inputs'])
    per_task = model.task_losses(feats, data['data_samples'])
    return {k: model.parse_losses(v)[0] for k, v in per_task.items()}, feats


def _grads(model, params=None):
    params = list(params if params is not None else model.parameters())
    return [p.grad.clone() if p.grad is not None else torch.zeros_like(p)
            for p in params]


def _reference_param_grads(model, batch):
    """Per-task gradients of every parameter, by plain backward passes."""
    out = {}
    for name in model.task_names:
        model.zero_grad()
        losses, _ = _task_losses(model, batch)
        losses[name].backward()
        out[name] = _grads(model)
    model.zero_grad()
    return out


def assert_grads_close(got, want, rel=2e-4):
    """Equal up to float32 summation order: relative to the tensor's norm."""
    err = (got - want).norm()
    assert err <= rel * want.norm() + 1e-9, (float(err), float(want.norm()))


def _run_step(model, wrapper, batch):
    """The model's train_step, but keep gradients (lr=0, no zero_grad)."""
    wrapper.zero_grad = lambda **kw: None
    model.train_step(copy.deepcopy(batch), wrapper)
    return _grads(model)


def test_loss_weighting_is_one_backward_of_the_weighted_sum(batch):
    model = _model()
    ref = _reference_param_grads(model, batch)
    got = _run_step(model, _wrapper(model, _TestLossWeights), batch)
    for r_det, r_seg, g in zip(ref['det'], ref['seg'], got):
        assert_grads_close(g, 1 * r_det + 2 * r_seg)


def test_parameter_mode_is_exact(batch):
    """Shared grads = sum_t w_t g_t with w from the parameter Gramian; each
    head gets its own loss's gradient unweighted."""
    model = _model()
    ref = _reference_param_grads(model, batch)
    got = _run_step(model, _wrapper(model, _TestGramianWeights,
                                    jacobian_mode='parameter'), batch)
    shared = {id(p) for m in model.shared_modules() for p in m.parameters()}
    params = list(model.parameters())
    flat = {t: torch.cat([g.reshape(-1) for p, g in zip(params, ref[t])
                          if id(p) in shared]) for t in ref}
    w = {t: 1.0 / flat[t].norm() for t in flat}
    gram = _TestGramianWeights.last_gramian
    torch.testing.assert_close(gram[0, 0].float(), flat['det'].norm()**2,
                               rtol=1e-4, atol=0)
    for p, r_det, r_seg, g in zip(params, ref['det'], ref['seg'], got):
        want = (w['det'] * r_det + w['seg'] * r_seg) if id(p) in shared \
            else r_det + r_seg
        assert_grads_close(g, want)


def test_feature_mode_uses_the_feature_gramian_and_one_backbone_pass(batch):
    """Shared grads = sum_t w_t g_t with w from the Gramian of the gradients
    w.r.t. the shared features (the FPN outputs)."""
    model = _model()
    ref = _reference_param_grads(model, batch)
    # feature gradients by hand
    losses, feats = _task_losses(model, batch)
    fg = {}
    for t in losses:
        grads = torch.autograd.grad(losses[t], feats, retain_graph=True,
                                    allow_unused=True)
        fg[t] = torch.cat([(g if g is not None else torch.zeros_like(f))
                           .reshape(-1) for g, f in zip(grads, feats)])
    w = {t: 1.0 / fg[t].norm() for t in fg}
    model.zero_grad()
    got = _run_step(model, _wrapper(model, _TestGramianWeights,
                                    jacobian_mode='feature'), batch)
    gram = _TestGramianWeights.last_gramian
    torch.testing.assert_close(
        gram.float(),
        torch.stack([fg['det'], fg['seg']]) @ torch.stack(
            [fg['det'], fg['seg']]).T, rtol=1e-4, atol=1e-10)
    shared = {id(p) for m in model.shared_modules() for p in m.parameters()}
    for p, r_det, r_seg, g in zip(model.parameters(), ref['det'], ref['seg'],
                                  got):
        want = (w['det'] * r_det + w['seg'] * r_seg) if id(p) in shared \
            else r_det + r_seg
        assert_grads_close(g, want)


@pytest.mark.parametrize('mode', ['feature', 'parameter'])
def test_each_head_runs_one_backward_per_step(batch, mode):
    """A task's backward must not run through the other tasks' heads: a
    backward from one element of a stacked loss vector would (with zero
    gradients), doubling the heads' backward cost for two tasks."""
    model = _model()
    forwards = {'det': 0, 'seg': 0}
    backwards = {'det': 0, 'seg': 0}
    # the last layer of each head (RetinaNet's runs once per FPN level)
    last_layers = dict(det=model.tasks['det'].head.retina_cls,
                       seg=model.tasks['seg'].head.conv_seg)

    def counter(calls, name):
        def hook(*args):
            calls[name] += 1
        return hook

    for name, layer in last_layers.items():
        layer.register_forward_hook(counter(forwards, name))
        layer.register_full_backward_hook(counter(backwards, name))
    _run_step(model, _wrapper(model, _TestGramianWeights,
                              jacobian_mode=mode), batch)
    assert forwards['det'] == 4 and forwards['seg'] == 1
    assert backwards == forwards


def test_head_inputs_must_be_leaf_views_of_the_shared_features(batch):
    """The wrapper backpropagates each task down to the head inputs and the
    shared part from the shared features: head inputs that are the features
    themselves (an uncut graph) are refused, naming how to cut."""
    model = _model()
    _, feats = _task_losses(model, batch)
    with pytest.raises(ValueError, match='SharedFeatures.cut'):
        SharedFeatures(tuple(feats), tuple(feats))
    with pytest.raises(ValueError, match='4 shared tensors but 3'):
        SharedFeatures.cut(feats[:3]).__class__(tuple(feats),
                                                tuple(feats[:3]))


def test_only_task_balancing_wrappers_get_per_task_losses(batch):
    """balances_tasks: a MultiTaskOptimWrapper (instance or class) takes the
    per-task losses; mmengine's OptimWrapper trains the summed loss through
    the detector's ordinary train_step."""
    from mmengine.optim import OptimWrapper
    from mmmtl.engine import MultiTaskOptimWrapper, balances_tasks
    model = _model()
    assert balances_tasks(_wrapper(model, _TestLossWeights))
    assert balances_tasks(MultiTaskOptimWrapper)
    plain = build_optim_wrapper(model, dict(
        type='OptimWrapper', optimizer=dict(type='SGD', lr=0.0)))
    assert not balances_tasks(plain) and not balances_tasks(OptimWrapper)
    logs = model.train_step(copy.deepcopy(batch), plain)
    assert 'weight.det' not in logs and 'det.loss_cls' in logs


def test_logs_weights_and_gradient_cosine(batch):
    model = _model()
    wrapper = _wrapper(model, _TestGramianWeights)
    logs = model.train_step(copy.deepcopy(batch), wrapper)
    for key in ('loss', 'det.loss', 'seg.loss', 'weight.det', 'weight.seg',
                'cos.det-seg'):
        assert key in logs, key
    assert -1 <= float(logs['cos.det-seg']) <= 1
    from mmengine.logging import MessageHub
    hub = MessageHub.get_current_instance()
    assert 'train/weight.det' in hub.log_scalars
    assert 'train/cos.det-seg' in hub.log_scalars


def test_gradient_accumulation_matches_one_big_step(batch):
    """Two micro-batches with accumulative_counts=2 give the mean gradient."""
    model = _model()
    wrapper = _wrapper(model, _TestLossWeights, accumulative_counts=2)
    wrapper.initialize_count_status(model, 0, 2)
    wrapper.zero_grad = lambda **kw: None
    step = wrapper.step
    calls = []
    wrapper.step = lambda **kw: calls.append(1)
    model.train_step(copy.deepcopy(batch), wrapper)
    assert not calls                     # no step after the first micro-batch
    model.train_step(copy.deepcopy(batch), wrapper)
    assert calls == [1]
    got = _grads(model)
    ref_model = _model()
    ref = _reference_param_grads(ref_model, batch)
    for r_det, r_seg, g in zip(ref['det'], ref['seg'], got):
        # same batch twice, each scaled by 1/2: the single-batch gradient
        assert_grads_close(g, r_det + 2 * r_seg)
    wrapper.step = step


def test_accumulation_outside_a_runner_follows_mmengines_scale_loss(batch):
    """accumulative_counts=2 in a plain loop (initialize_count_status never
    called): each micro-batch counts 1/2, as mmengine's OptimWrapper has it
    (the factor was -1 there, flipping the gradient)."""
    grads = []
    for wrapper_type in ('MultiTaskOptimWrapper', 'OptimWrapper'):
        model = _model()
        cfg = dict(type=wrapper_type, optimizer=dict(type='SGD', lr=0.0),
                   accumulative_counts=2)
        if wrapper_type == 'MultiTaskOptimWrapper':
            cfg.update(constructor='MultiTaskOptimWrapperConstructor',
                       balancer=dict(type='EqualWeighting'))
        wrapper = build_optim_wrapper(model, cfg)
        wrapper.zero_grad = lambda **kw: None
        for seed in (0, 1):
            model.train_step(random_batch(3, seed=seed), wrapper)
        grads.append(_grads(model))
    for ours, mmengine in zip(*grads):
        assert_grads_close(ours, mmengine)
    assert any(float(g.norm()) > 0 for g in grads[1])


def test_clip_grad_matches_mmengines_optim_wrapper(batch):
    """Equal weighting + clip_grad: the same step as mmengine's OptimWrapper
    on the summed loss with the same clip_grad (and clipping was active)."""
    from mmengine.logging import MessageHub
    clip = dict(max_norm=0.05)
    ours = _model()
    ours_wrapper = build_optim_wrapper(ours, dict(
        type='MultiTaskOptimWrapper',
        constructor='MultiTaskOptimWrapperConstructor',
        optimizer=dict(type='SGD', lr=0.5, momentum=0.9),
        balancer=dict(type='EqualWeighting'), clip_grad=clip))
    ref = _model()
    ref_wrapper = build_optim_wrapper(ref, dict(
        type='OptimWrapper', optimizer=dict(type='SGD', lr=0.5, momentum=0.9),
        clip_grad=clip))
    hub = MessageHub.get_current_instance()
    for seed in (0, 1):
        b = random_batch(3, seed=seed)
        ours.train_step(copy.deepcopy(b), ours_wrapper)
        ours_norm = hub.get_scalar('train/grad_norm').current()
        ref.train_step(copy.deepcopy(b), ref_wrapper)
        ref_norm = hub.get_scalar('train/grad_norm').current()
        assert ours_norm == pytest.approx(ref_norm, rel=1e-4)
        assert ref_norm > 10 * clip['max_norm']      # clipping did act
    for (name, p), q in zip(ours.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize('mode', ['feature', 'parameter'])
def test_clip_grad_clips_the_balanced_gradient(batch, mode):
    """With a gradient method, clipping acts on the final (balanced)
    gradient of every parameter: plain SGD then moves the weights by
    exactly lr * max_norm."""
    model = _model()
    wrapper = build_optim_wrapper(model, dict(
        type='MultiTaskOptimWrapper',
        constructor='MultiTaskOptimWrapperConstructor',
        optimizer=dict(type='SGD', lr=0.5), balancer=dict(type='MGDA'),
        jacobian_mode=mode, clip_grad=dict(max_norm=0.05)))
    before = [p.detach().clone() for p in model.parameters()]
    model.train_step(copy.deepcopy(batch), wrapper)
    moved = torch.cat([(p.detach() - b).reshape(-1)
                       for p, b in zip(model.parameters(), before)])
    assert float(moved.norm()) == pytest.approx(0.5 * 0.05, rel=1e-3)


def test_without_the_constructor_the_error_says_what_to_set(batch):
    from mmmtl.engine import MultiTaskOptimWrapper
    model = _model()
    wrapper = MultiTaskOptimWrapper(
        torch.optim.SGD(model.parameters(), lr=0.1),
        balancer=dict(type=_TestLossWeights))
    with pytest.raises(RuntimeError,
                       match='MultiTaskOptimWrapperConstructor'):
        model.train_step(copy.deepcopy(batch), wrapper)


def test_bad_jacobian_mode_is_rejected():
    model = _model()
    with pytest.raises(ValueError, match='jacobian_mode'):
        _wrapper(model, _TestGramianWeights, jacobian_mode='features')


def test_a_summed_loss_is_refused_not_silently_trained(batch):
    """mmengine's plain DDP wrapper would hand over the summed loss: that
    must fail loudly, naming the model wrapper to use."""
    model = _model()
    wrapper = _wrapper(model, _TestGramianWeights)
    with pytest.raises(RuntimeError,
                       match='MultiTaskDistributedDataParallel'):
        wrapper.update_params(torch.ones((), requires_grad=True))


# ------------------------------------------------ partial-label steps
def test_static_weights_hold_on_a_step_with_one_task(batch):
    """No sample has seg labels: the det loss keeps its own weight (0.25),
    it is not summed with weight 1."""
    det_only = without_seg_labels(batch)
    model = _model()
    losses, _ = _task_losses(model, det_only)
    losses['det'].backward()
    ref = _grads(model)
    model.zero_grad()
    wrapper = build_optim_wrapper(model, dict(
        type='MultiTaskOptimWrapper',
        constructor='MultiTaskOptimWrapperConstructor',
        optimizer=dict(type='SGD', lr=0.0),
        balancer=dict(type='StaticWeighting', weights=[0.25, 4.0])))
    assert model.task_names == ['det', 'seg']
    logs = model.train_step(copy.deepcopy(det_only), wrapper)
    assert float(logs['weight.det']) == 0.25
    wrapper.zero_grad = lambda **kw: None
    got = _run_step(model, wrapper, det_only)
    for g, want in zip(got, ref):
        assert_grads_close(g, 0.25 * want)


def test_uncertainty_weighting_trains_only_the_present_tasks_variance(batch):
    model = _model()
    wrapper = build_optim_wrapper(model, dict(
        type='MultiTaskOptimWrapper',
        constructor='MultiTaskOptimWrapperConstructor',
        optimizer=dict(type='SGD', lr=0.1),
        balancer=dict(type='UncertaintyWeighting')))
    log_vars = wrapper.balancer.log_vars
    model.train_step(without_seg_labels(batch), wrapper)
    # det's s moved (d/ds = 1 - L_det != 0); seg's stayed at 0
    assert log_vars[0].item() != 0.0
    assert log_vars[1].item() == 0.0


def test_a_balancer_with_coupled_state_sums_and_says_so(batch, monkeypatch):
    said = captured_log(monkeypatch)
    model = _model()
    wrapper = build_optim_wrapper(model, dict(
        type='MultiTaskOptimWrapper',
        constructor='MultiTaskOptimWrapperConstructor',
        optimizer=dict(type='SGD', lr=0.0), balancer=dict(type='FAMO')))
    state = copy.deepcopy(wrapper.balancer.state_dict())
    for _ in range(2):
        logs = model.train_step(without_seg_labels(batch), wrapper)
        assert float(logs['weight.det']) == 1.0
    said = [m for m in said if 'cannot weigh' in m]
    assert len(said) == 1                       # once, not every step
    assert "FAMO cannot weigh a step on which only the tasks ['det']" \
        in said[0]
    for k, v in wrapper.balancer.state_dict().items():
        assert torch.equal(v, state[k]), k


def _shared_params(model):
    return [p for m in model.shared_modules() for p in m.parameters()]


@pytest.mark.parametrize('mode', ['feature', 'parameter'])
def test_a_reuse_step_equals_the_jacobian_path_with_its_weights(mode):
    """recompute_every=2: the second step reuses the weights of the first
    (1/||g_t|| on another batch) without a Jacobian; its gradients are those
    of the full per-task Jacobian path given the same weights."""
    model = _model()
    cheap = _wrapper(model, dict(type=_TestGramianWeights,
                                 recompute_every=2), jacobian_mode=mode)
    _run_step(model, cheap, random_batch(3, seed=1))
    reused = cheap.balancer.reused_weights.clone()
    assert not torch.allclose(reused, torch.ones_like(reused))
    model.zero_grad(set_to_none=True)
    got = _run_step(model, cheap, random_batch(3, seed=2))
    model.zero_grad(set_to_none=True)
    full = _wrapper(model, dict(type=_TestGivenWeights,
                                weights=reused.tolist()), jacobian_mode=mode)
    want = _run_step(model, full, random_batch(3, seed=2))
    shared = {id(p) for p in _shared_params(model)}
    assert shared
    for p, g, w in zip(model.parameters(), got, want):
        assert_grads_close(g, w, rel=1e-5)
        if id(p) in shared and mode == 'parameter':
            # as from the Jacobian: a zero (not a missing) gradient
            assert p.grad is not None


@pytest.mark.parametrize('mode,shared_passes', [('feature', [1, 1, 1]),
                                                ('parameter', [2, 1, 2])])
def test_a_reuse_step_runs_one_shared_backward_and_no_gramian(
        batch, mode, shared_passes):
    """Steps 1 and 3 compute the weights (parameter mode: one backward
    through the shared part per task); step 2 reuses them: one backward
    through the shared part, and the balancer is given no Gramian."""
    model = _model()
    wrapper = _wrapper(model, dict(type=_TestGramianWeights,
                                   recompute_every=2), jacobian_mode=mode)
    first_conv = next(p for p in _shared_params(model) if p.dim() == 4)
    passes = []
    first_conv.register_hook(lambda g: passes.append(1))
    gramians = []
    forward = wrapper.balancer.forward

    def spy(losses, gramian=None):
        gramians.append(gramian is not None)
        return forward(losses, gramian)

    wrapper.balancer.forward = spy
    counts = []
    for _ in range(3):
        passes.clear()
        _run_step(model, wrapper, batch)
        counts.append(len(passes))
    assert counts == shared_passes
    assert gramians == [True, False, True]


def test_resuming_with_another_balancer_names_both():
    model = _model()
    saved = _wrapper(model, 'UncertaintyWeighting').state_dict()
    assert saved['balancer_type'] == 'UncertaintyWeighting'
    other = _wrapper(model, 'DWA')
    with pytest.raises(RuntimeError, match=r'optim_wrapper\.balancer \(type '
                       r'DWA\); the checkpoint\'s balancer: '
                       r'UncertaintyWeighting'):
        other.load_state_dict(saved)


def test_a_checkpoint_without_the_balancers_generator_loads_with_a_warning(
        monkeypatch):
    messages = captured_log(monkeypatch)
    model = _model()
    saved = _wrapper(model, dict(type='RLW', seed=3)).state_dict()
    del saved['balancer']['rng_state']  # as mmmtl wrote it before
    resumed = _wrapper(model, dict(type='RLW', seed=3))
    start = resumed.balancer.rng_state.clone()
    resumed.load_state_dict(saved)
    assert torch.equal(resumed.balancer.rng_state, start)
    assert any('RLW: the checkpoint has no `rng_state`' in m and
               'restart from seed 3' in m for m in messages)
