"""Builds a MultiTaskOptimWrapper that knows the model's shared and task parameters."""
from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from torch import nn

from mmmtl.registry import build_balancer
from .balances_tasks import balances_tasks


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MultiTaskOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Constructor for :class:`MultiTaskOptimWrapper`.

    On top of mmengine's default constructor (``paramwise_cfg`` included) it

    * builds the balancer with the model's number of tasks;
    * adds the balancer's learnable parameters (e.g. uncertainty
      log-variances) to the optimizer as their own param group, without
      weight decay;
    * tells the wrapper which parameters are shared (``backbone``, ``neck``:
      the model's ``shared_modules()``) and which belong to each task
      (its ``task_modules()``: the task module, and an architecture's
      task-specific modules).

    The model must have ``tasks`` (an ``nn.ModuleDict``),
    ``shared_modules()`` and ``task_modules()``, as
    :class:`MultiTaskDetector` does.
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

        # the default constructor builds wrapper + optimizer over the model
        self.optim_wrapper_cfg = dict(cfg, balancer=balancer)
        try:
            optim_wrapper = self._build(model, balancer)
        finally:
            self.optim_wrapper_cfg = cfg
        return optim_wrapper

    def _build(self, model: nn.Module, balancer: nn.Module) -> OptimWrapper:
        optim_wrapper = super().__call__(model)
        extra = [p for p in balancer.parameters() if p.requires_grad]
        if extra:
            optim_wrapper.optimizer.add_param_group(
                dict(params=extra, weight_decay=0.0))
        shared = [p for m in model.shared_modules() for p in m.parameters()]
        optim_wrapper.shared_params = shared
        # a task's own modules: its task module, and an architecture's
        # task-specific modules above the shared part (MTAN attention)
        optim_wrapper.task_params = {
            name: list(dict.fromkeys(p for m in modules
                                     for p in m.parameters()))
            for name, modules in model.task_modules().items()
        }
        return optim_wrapper
