"""Builds a MultiTaskOptimWrapper that knows the model's shared and task parameters."""
from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from torch import nn

from mmmtl.registry import build_balancer
from .balances_tasks import balances_tasks


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MultiTaskOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Constructor for :class:`MultiTaskOptimWrapper`.

    The optimizer is built by mmengine's default constructor
    (``paramwise_cfg`` included); then the wrapper is built with

    * the balancer, built for the model's number of tasks (the wrapper adds
      its learnable parameters, e.g. uncertainty log-variances, to the
      optimizer as their own param group, without weight decay);
    * the shared parameters (``backbone``, ``neck``: the model's
      ``shared_modules()``) and each task's parameters.

    The model must have ``tasks`` (an ``nn.ModuleDict``) and
    ``shared_modules()``, as :class:`MultiTaskDetector` does.
    """

    def __call__(self, model: nn.Module) -> OptimWrapper:
        if hasattr(model, 'module'):
            model = model.module
        if not (hasattr(model, 'tasks') and hasattr(model, 'shared_modules')):
            raise TypeError(
                'MultiTaskOptimWrapperConstructor needs a multi-task model '
                '(with `tasks` and `shared_modules()`, e.g. MultiTaskDetector)'
                f', got {type(model).__name__}')
        cfg = self.optim_wrapper_cfg.copy()
        wrapper_type = cfg.get('type', 'OptimWrapper')
        wrapper_cls = OPTIM_WRAPPERS.get(wrapper_type)
        if wrapper_cls is None or not balances_tasks(wrapper_cls):
            raise TypeError(
                f'MultiTaskOptimWrapperConstructor builds task-balancing optim '
                f"wrappers; optim_wrapper.type={wrapper_type!r} is not one")
        balancer_cfg = cfg.pop('balancer', None) or dict(type='EqualWeighting')
        balancer = build_balancer(
            dict(balancer_cfg, num_tasks=len(model.tasks)))
        optimizer = DefaultOptimWrapperConstructor(
            dict(type='OptimWrapper', optimizer=self.optimizer_cfg),
            self.paramwise_cfg)(model).optimizer
        return OPTIM_WRAPPERS.build(cfg, default_args=dict(
            optimizer=optimizer, balancer=balancer,
            shared_params=[p for m in model.shared_modules()
                           for p in m.parameters()],
            # a task's own modules: its task module, and an architecture's
            # task-specific modules above the shared part (MTAN attention)
            task_params={name: list(dict.fromkeys(
                p for m in modules for p in m.parameters()))
                for name, modules in model.task_modules().items()}))
