"""Registries of mmmtl.

Models, datasets, transforms, metrics, hooks and optim wrappers register in
mmdet's registries (so an mmdet config with ``custom_imports=dict(
imports=['mmmtl'])`` finds them); the one kind of thing OpenMMLab has no
registry for, task balancers, gets its own.
"""
from mmengine.registry import Registry

#: Task balancers: loss weightings and gradient aggregators (``mmmtl.balancers``).
BALANCERS = Registry('balancer', scope='mmmtl', locations=['mmmtl.balancers'])
