from .balances_tasks import balances_tasks
from .multitask_optim_wrapper import MultiTaskOptimWrapper
from .multitask_optim_wrapper_constructor import \
    MultiTaskOptimWrapperConstructor

__all__ = ['MultiTaskOptimWrapper', 'MultiTaskOptimWrapperConstructor',
           'balances_tasks']
