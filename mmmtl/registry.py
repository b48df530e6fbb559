"""Registries of mmmtl, and its config scope.

Models, datasets, transforms, metrics, hooks and optim wrappers register in
mmdet's registries (so an mmdet config with ``custom_imports=dict(
imports=['mmmtl'])`` finds them); the one kind of thing OpenMMLab has no
registry for, task balancers, gets its own.

The scope ``mmmtl``: once mmmtl is imported (as its tools, the inferencer
and the export tool do first), a config may inherit mmmtl's configs by
package, ``_base_ = 'mmmtl::synthetic/retinanet_r18-c32_fpn_semfpn_synthetic.py'``
(OpenMMLab's ``.mim`` convention: mmengine reads them from the package's
``.mim/configs``, a link to ``configs/`` in the source tree, a copy in a
wheel). mmengine then tags what those configs build with
``_scope_='mmmtl'``, and looks for registries of that scope; the children
of mmdet's registries below are those: each finds everything its mmdet
parent (and mmengine above it) holds.
"""
import os.path as osp

from mmdet import registry as mmdet_registry
from mmengine.config import config as mmengine_config
from mmengine.config.utils import MODULE2PACKAGE
from mmengine.registry import Registry

#: Task balancers: loss weightings and gradient aggregators (``mmmtl.balancers``).
BALANCERS = Registry('balancer', scope='mmmtl', locations=['mmmtl.balancers'])

# `mmmtl::` config paths: mmengine only resolves the packages it lists ...
MODULE2PACKAGE.setdefault('mmmtl', 'mmmtl')
_PACKAGE_DIR = osp.dirname(osp.abspath(__file__))
_mmengine_installed_path = mmengine_config.get_installed_path


def _installed_path(package: str) -> str:
    """... and looks for them under ``<site-packages>/<package>``, which an
    editable install (``pip install -e``) does not have: mmmtl is where it
    is imported from."""
    if package == 'mmmtl':
        return _PACKAGE_DIR
    return _mmengine_installed_path(package)


mmengine_config.get_installed_path = _installed_path


def _mmmtl_scope(parent: Registry) -> Registry:
    """A registry of scope ``mmmtl`` under one of mmdet's."""
    return Registry(parent.name, parent=parent, scope='mmmtl',
                    locations=list(parent._locations))


RUNNERS = _mmmtl_scope(mmdet_registry.RUNNERS)
RUNNER_CONSTRUCTORS = _mmmtl_scope(mmdet_registry.RUNNER_CONSTRUCTORS)
LOOPS = _mmmtl_scope(mmdet_registry.LOOPS)
HOOKS = _mmmtl_scope(mmdet_registry.HOOKS)
DATASETS = _mmmtl_scope(mmdet_registry.DATASETS)
DATA_SAMPLERS = _mmmtl_scope(mmdet_registry.DATA_SAMPLERS)
TRANSFORMS = _mmmtl_scope(mmdet_registry.TRANSFORMS)
MODELS = _mmmtl_scope(mmdet_registry.MODELS)
MODEL_WRAPPERS = _mmmtl_scope(mmdet_registry.MODEL_WRAPPERS)
WEIGHT_INITIALIZERS = _mmmtl_scope(mmdet_registry.WEIGHT_INITIALIZERS)
OPTIMIZERS = _mmmtl_scope(mmdet_registry.OPTIMIZERS)
OPTIM_WRAPPERS = _mmmtl_scope(mmdet_registry.OPTIM_WRAPPERS)
OPTIM_WRAPPER_CONSTRUCTORS = _mmmtl_scope(
    mmdet_registry.OPTIM_WRAPPER_CONSTRUCTORS)
PARAM_SCHEDULERS = _mmmtl_scope(mmdet_registry.PARAM_SCHEDULERS)
METRICS = _mmmtl_scope(mmdet_registry.METRICS)
EVALUATOR = _mmmtl_scope(mmdet_registry.EVALUATOR)
TASK_UTILS = _mmmtl_scope(mmdet_registry.TASK_UTILS)
VISUALIZERS = _mmmtl_scope(mmdet_registry.VISUALIZERS)
VISBACKENDS = _mmmtl_scope(mmdet_registry.VISBACKENDS)
LOG_PROCESSORS = _mmmtl_scope(mmdet_registry.LOG_PROCESSORS)


def build_balancer(cfg):
    """Build a balancer from its config, in mmmtl's scope whatever the
    default scope is (configs run with ``default_scope='mmdet'``)."""
    cfg = dict(cfg)
    cfg.setdefault('_scope_', 'mmmtl')
    return BALANCERS.build(cfg)
