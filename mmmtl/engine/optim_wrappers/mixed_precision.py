"""Autocast dtype and loss scaler of the task-balancing optim wrapper.

mmengine's ``AmpOptimWrapper`` cannot be composed here: it refuses to be
built without a GPU, its CPU autocast refuses float16, and it scales one
summed loss, where the balancer needs each task's gradients unscaled. What
is kept from it is its ``loss_scale`` argument and its step (unscale, clip,
``scaler.step``, ``scaler.update``).
"""
from typing import Optional, Union

import torch

DTYPES = ('float16', 'bfloat16')


def autocast_dtype(name: Optional[str], device: torch.device) -> torch.dtype:
    """``name`` as a dtype; None: float16 on CUDA, bfloat16 elsewhere."""
    name = name or ('float16' if device.type == 'cuda' else 'bfloat16')
    if name not in DTYPES:
        raise ValueError(f'optim_wrapper.dtype must be one of {DTYPES}, got '
                         f'{name!r}')
    return getattr(torch, name)


def build_loss_scaler(loss_scale: Union[str, float, dict],
                      device: torch.device) -> torch.amp.GradScaler:
    """A ``GradScaler`` as ``AmpOptimWrapper``'s ``loss_scale`` describes
    it: ``'dynamic'``, a fixed scale (never grown nor backed off), or the
    scaler's keyword arguments."""
    if loss_scale == 'dynamic':
        return torch.amp.GradScaler(device.type)
    if isinstance(loss_scale, (int, float)):
        return torch.amp.GradScaler(device.type, init_scale=float(loss_scale),
                                    growth_factor=1.0, backoff_factor=1.0)
    if isinstance(loss_scale, dict):
        return torch.amp.GradScaler(device.type, **loss_scale)
    raise TypeError("optim_wrapper.loss_scale must be 'dynamic', a number or "
                    f'a dict, got {loss_scale!r}')


def back_off(scaler: torch.amp.GradScaler) -> None:
    """What the scaler does on a step whose gradients overflowed (scale
    times ``backoff_factor``, growth count reset), for a step that the
    optim wrapper skipped before the scaler saw it."""
    state = scaler.state_dict()
    state['scale'] = state['scale'] * state['backoff_factor']
    state['_growth_tracker'] = 0
    scaler.load_state_dict(state)
