"""DDP equivalence (2 gloo processes vs 1 process) and mixed precision."""
import copy

import pytest
import torch
from mmengine.optim import build_optim_wrapper

from mtl_ddp_worker import (ADAMW, _build, _train, _worker,
                            _worker_inf_on_one_rank, _worker_parity,
                            alternating_batches, poison_seg_loss, run_ranks,
                            train_alternating)
from mtl_fixtures import random_batch, without_seg_labels


@pytest.mark.parametrize('balancer,mode', [
    ('EqualWeighting', 'feature'), ('MGDA', 'feature'),
    ('UPGrad', 'parameter'),
    # the second step reuses the weights: each rank's J^T w from one
    # backward of its weighted feature gradients, averaged over ranks
    (dict(type='UPGrad', recompute_every=2), 'parameter')])
def test_two_processes_match_one_on_the_global_batch(tmp_path, balancer,
                                                      mode):
    out = str(tmp_path / 'ddp.pth')
    run_ranks(_worker, (balancer, mode, out), rendezvous=tmp_path)
    ddp = torch.load(out, weights_only=True)
    ddp1 = torch.load(out + '.1', weights_only=True)
    # every rank used the same task weights
    assert ddp['logs'] == ddp1['logs']

    model, wrapper = _build(balancer, mode)
    single = _train(model, wrapper, [random_batch(4, seed=s) for s in (0, 1)])
    for key, value in single.items():
        torch.testing.assert_close(ddp['state'][key], value, rtol=1e-4,
                                   atol=1e-5, msg=key)
    # and training moved the weights (the comparison is not vacuous)
    init, _ = _build(balancer, mode)
    moved = sum((init.state_dict()[k].float() - v.float()).abs().sum()
                for k, v in single.items())
    assert moved > 1e-3


@pytest.mark.parametrize('balancer,mode', [('EqualWeighting', 'feature'),
                                           ('MGDA', 'parameter')])
def test_a_task_labelled_on_one_rank_only_matches_one_process(tmp_path,
                                                               balancer,
                                                               mode):
    """Rank 1's images have boxes but no seg labels. One process on the
    global batch averages the seg loss over rank 0's images; the two ranks
    must do the same, not halve it (rank 1 contributes zero gradient)."""
    out = str(tmp_path / 'ddp.pth')
    run_ranks(_worker, (balancer, mode, out, True), rendezvous=tmp_path)
    ddp = torch.load(out, weights_only=True)
    assert ddp['logs'] == torch.load(out + '.1', weights_only=True)['logs']

    model, wrapper = _build(balancer, mode)
    single = _train(model, wrapper, [
        without_seg_labels(random_batch(4, seed=s), [2, 3]) for s in (0, 1)])
    for key, value in single.items():
        torch.testing.assert_close(ddp['state'][key], value, rtol=1e-4,
                                   atol=1e-5, msg=key)


# ------------------------------------------------------------------ AMP
@pytest.mark.parametrize('balancer', ['EqualWeighting', 'MGDA'])
def test_bf16_autocast_trains_on_cpu(balancer):
    model, _ = _build(balancer, 'feature')
    wrapper = build_optim_wrapper(model, dict(
        type='MultiTaskOptimWrapper',
        constructor='MultiTaskOptimWrapperConstructor',
        optimizer=dict(type='SGD', lr=0.01),
        balancer=dict(type=balancer), amp=True, dtype='bfloat16'))
    seen = {}

    def record_dtype(module, inputs, outputs):
        seen.setdefault('dtype', outputs[0].dtype)

    hook = model.backbone.register_forward_hook(record_dtype)
    before = copy.deepcopy(model.state_dict())
    logs = model.train_step(random_batch(2), wrapper)
    hook.remove()
    assert seen['dtype'] == torch.bfloat16      # autocast was on
    assert wrapper.loss_scaler is None          # bf16 needs no scaler
    assert torch.isfinite(logs['loss'])
    assert all(p.dtype == torch.float32 for p in model.parameters())
    changed = [k for k, v in model.state_dict().items()
               if not torch.equal(v, before[k])]
    assert any(k.startswith('backbone.') for k in changed)


def test_fp16_scaler_skips_a_step_with_inf_gradients():
    model, _ = _build('MGDA', 'feature')
    wrapper = build_optim_wrapper(model, dict(
        type='MultiTaskOptimWrapper',
        constructor='MultiTaskOptimWrapperConstructor',
        optimizer=dict(type='SGD', lr=0.01),
        balancer=dict(type='MGDA'), amp=True, dtype='float16',
        loss_scale=dict(init_scale=256.0)))
    # a normal step: the scaler scales the losses, the step is taken
    before = copy.deepcopy(model.state_dict())
    model.train_step(random_batch(2), wrapper)
    scale = wrapper.loss_scaler.get_scale()
    assert scale > 1
    changed = any(not torch.equal(v, before[k])
                  for k, v in model.state_dict().items())
    assert changed
    # poison one task's loss: its gradients overflow -> step skipped,
    # scale halved, weights untouched
    undo = poison_seg_loss(model)
    before = copy.deepcopy(model.state_dict())
    model.train_step(random_batch(2, seed=1), wrapper)
    undo()
    assert wrapper.loss_scaler.get_scale() == scale / 2
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


@pytest.mark.parametrize('mode,amp', [('feature', True),
                                      ('parameter', False)])
def test_inf_on_one_rank_skips_the_step_on_every_rank(tmp_path, mode, amp):
    """Ranks must agree to skip: a rank whose losses are finite must not
    step (nor wait in a collective that the other rank never joins)."""
    out = str(tmp_path / 'inf')
    run_ranks(_worker_inf_on_one_rank, (mode, amp, out), rendezvous=tmp_path)
    for rank in (0, 1):
        res = torch.load(f'{out}.{rank}', weights_only=True)
        assert res['unchanged'] and res['skipped'] == 1, rank
        if amp:
            assert res['scale'] > 1
            assert res['scale_after'] == res['scale'] / 2, rank


def test_ddp_parity_alternating_tasks_and_batchnorm(tmp_path):
    """(1) Step 2 trains detection only: no rank has a seg gradient, so the
    seg head keeps none and AdamW leaves it alone, as in one process (a
    zero-filled gradient would move it by weight decay and momentum).
    (2) With BatchNorm, every rank starts each step with rank 0's running
    statistics, as DDP's buffer broadcast gives (they drifted apart)."""
    out = str(tmp_path / 'parity')
    run_ranks(_worker_parity, (out, ), rendezvous=tmp_path)
    ranks = [torch.load(f'{out}.{r}', weights_only=True) for r in (0, 1)]
    model, wrapper = _build('EqualWeighting', 'feature', ADAMW)
    single = train_alternating(
        model, lambda b: model.train_step(b, wrapper), alternating_batches())
    # AdamW divides each step by the gradient's running RMS, which turns
    # the float32 summation-order differences of near-zero gradients into
    # up to ~4e-5 here; a zero-filled seg gradient moved that head by ~1e-3
    for key, value in single.items():
        torch.testing.assert_close(ranks[0]['state'][key], value, rtol=1e-4,
                                   atol=2e-4, msg=key)
    starts = [r['buffers_at_start'] for r in ranks]
    assert len(starts[0]) == len(starts[1]) == 2
    running = [k for k in starts[0][1] if k.endswith('running_mean')]
    assert running
    for key in starts[0][1]:
        assert torch.equal(starts[0][1][key], starts[1][1][key]), key
    # each rank's step on its own images gave it other statistics (the
    # check is not vacuous)
    ends = [r['buffers_at_end'] for r in ranks]
    assert not torch.equal(ends[0][0][running[0]], ends[1][0][running[0]])


def test_fp16_clips_the_unscaled_gradient():
    """clip_grad under the loss scaler acts on the unscaled gradients (as
    AmpOptimWrapper does): plain SGD moves the weights by lr * max_norm,
    not by lr * max_norm / scale."""
    model, _ = _build('MGDA', 'feature')
    wrapper = build_optim_wrapper(model, dict(
        type='MultiTaskOptimWrapper',
        constructor='MultiTaskOptimWrapperConstructor',
        optimizer=dict(type='SGD', lr=0.5), balancer=dict(type='MGDA'),
        amp=True, dtype='float16', loss_scale=dict(init_scale=256.0),
        clip_grad=dict(max_norm=0.05)))
    before = [p.detach().clone() for p in model.parameters()]
    model.train_step(random_batch(2), wrapper)
    assert wrapper.loss_scaler.get_scale() == 256.0   # step not skipped
    moved = torch.cat([(p.detach() - b).reshape(-1)
                       for p, b in zip(model.parameters(), before)])
    assert float(moved.norm()) == pytest.approx(0.5 * 0.05, rel=1e-3)


def test_train_py_amp_keeps_the_balancer():
    from mmengine.config import Config

    from mmmtl.utils.config import enable_amp
    cfg = Config(dict(optim_wrapper=dict(
        type='MultiTaskOptimWrapper', optimizer=dict(type='SGD', lr=0.1),
        balancer=dict(type='PCGrad'))))
    enable_amp(cfg)
    assert cfg.optim_wrapper.type == 'MultiTaskOptimWrapper'
    assert cfg.optim_wrapper.amp is True
    assert cfg.optim_wrapper.balancer.type == 'PCGrad'
    plain = Config(dict(optim_wrapper=dict(
        type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1))))
    enable_amp(plain)
    assert plain.optim_wrapper.type == 'AmpOptimWrapper'
