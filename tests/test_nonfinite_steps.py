"""A step with a NaN/inf loss or gradient in one task is skipped: the model,
the optimizer, the balancer and the BatchNorm statistics are left as if the
step had never been taken; it is named, counted, and too many in a row stop
training. (Under DDP: tests/test_distributed_amp.py.)"""
import copy

import pytest
import torch
from mmengine.logging import MessageHub

from mtl_ddp_worker import ADAMW, _build, bn_model_cfg
from mtl_fixtures import captured_log, random_batch


def nan_seg_loss(model):
    """The seg task's loss becomes NaN; returns an undo."""
    return _patch_seg_loss(model, lambda loss: loss * float('nan'))


def nan_seg_gradient(model):
    """The seg task's loss stays finite but its gradient is NaN
    (d/du 0 * sqrt(0 * u) = 0 * inf); returns an undo."""
    return _patch_seg_loss(model,
                           lambda loss: loss + 0 * (0 * loss).sqrt())


def _patch_seg_loss(model, change):
    task = model.tasks['seg']
    orig = task.loss_on_labeled

    def patched(*args, **kwargs):
        losses = orig(*args, **kwargs)
        losses['loss_ce'] = change(losses['loss_ce'])
        return losses

    task.loss_on_labeled = patched
    return lambda: setattr(task, 'loss_on_labeled', orig)


def _build_bn(balancer, mode, **kwargs):
    return _build(balancer, mode, ADAMW, model_cfg=bn_model_cfg(), **kwargs)


def _state(model, wrapper):
    return (copy.deepcopy(model.state_dict()),
            copy.deepcopy(wrapper.state_dict()))


def _assert_same(got, want):
    (model_got, wrapper_got), (model_want, wrapper_want) = got, want
    for key, value in model_want.items():
        assert torch.equal(model_got[key], value), key
    opt_got, opt_want = wrapper_got['state'], wrapper_want['state']
    assert opt_got.keys() == opt_want.keys()
    for idx, slots in opt_want.items():
        for slot, value in slots.items():
            assert torch.equal(opt_got[idx][slot], value), (idx, slot)
    assert _equal(wrapper_got['balancer'], wrapper_want['balancer'])


def _equal(a, b):
    if isinstance(a, torch.Tensor):   # bitwise, NaN placeholders included
        return a.dtype == b.dtype and a.shape == b.shape and bool(
            torch.isclose(a, b, rtol=0, atol=0, equal_nan=True).all())
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(_equal, a, b))
    return a == b


BATCHES = [random_batch(2, seed=s) for s in range(3)]


@pytest.mark.parametrize('poison,balancer,mode,amp', [
    (nan_seg_loss, 'EqualWeighting', 'feature', False),
    (nan_seg_loss, 'UPGrad', 'feature', False),
    (nan_seg_loss, 'EqualWeighting', 'feature', True),
    (nan_seg_gradient, 'DWA', 'feature', False),
    (nan_seg_gradient, 'UPGrad', 'parameter', False)])
def test_a_nonfinite_step_is_skipped_as_if_never_taken(
        monkeypatch, poison, balancer, mode, amp):
    """Steps 0, 1 (NaN in seg), 2 end where steps 0 and 2 alone do: weights,
    BatchNorm statistics, AdamW moments and step counts, the balancer's
    state (DWA's loss history) all bitwise equal."""
    amp_kw = dict(amp=True, dtype='bfloat16') if amp else {}
    ref_model, ref_wrapper = _build_bn(balancer, mode, **amp_kw)
    for i in (0, 2):
        ref_model.train_step(copy.deepcopy(BATCHES[i]), ref_wrapper)

    said = captured_log(monkeypatch)
    model, wrapper = _build_bn(balancer, mode, **amp_kw)
    model.train_step(copy.deepcopy(BATCHES[0]), wrapper)
    undo = poison(model)
    model.train_step(copy.deepcopy(BATCHES[1]), wrapper)
    undo()
    model.train_step(copy.deepcopy(BATCHES[2]), wrapper)

    _assert_same(_state(model, wrapper), _state(ref_model, ref_wrapper))
    assert wrapper.skipped_steps == 1
    hub = MessageHub.get_current_instance()
    assert hub.get_scalar('train/skipped_steps').current() == 1
    what = 'loss' if poison is nan_seg_loss else 'gradient'
    warned = [m for m in said if 'skipped' in m]
    assert len(warned) == 1
    assert warned[0].startswith('Iteration 2: ')
    assert f"non-finite {what} in task(s) ['seg']" in warned[0]


def test_too_many_consecutive_skips_stop_training():
    model, wrapper = _build('EqualWeighting', 'feature',
                            max_consecutive_skips=2)
    undo = nan_seg_loss(model)
    model.train_step(copy.deepcopy(BATCHES[0]), wrapper)
    undo()
    model.train_step(copy.deepcopy(BATCHES[1]), wrapper)    # resets
    nan_seg_loss(model)
    model.train_step(copy.deepcopy(BATCHES[2]), wrapper)
    with pytest.raises(RuntimeError,
                       match=r'2 consecutive training steps .*'
                       r'optim_wrapper.max_consecutive_skips=2'):
        model.train_step(copy.deepcopy(BATCHES[0]), wrapper)
    assert wrapper.skipped_steps == 3
