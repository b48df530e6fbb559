"""Registries of mmmtl.

Models, datasets, transforms, metrics, hooks and optim wrappers register in
mmdet's registries (so an mmdet config with ``custom_imports=dict(
imports=['mmmtl'])`` finds them); the one kind of thing OpenMMLab has no
registry for, task balancers, gets its own.
"""
from mmengine.registry import Registry

#: Task balancers: loss weightings and gradient aggregators (``mmmtl.balancers``).
BALANCERS = Registry('balancer', scope='mmmtl', locations=['mmmtl.balancers'])


def build_balancer(cfg):
    """Build a balancer from its config, in mmmtl's scope whatever the
    default scope is (configs run with ``default_scope='mmdet'``)."""
    cfg = dict(cfg)
    cfg.setdefault('_scope_', 'mmmtl')
    return BALANCERS.build(cfg)
