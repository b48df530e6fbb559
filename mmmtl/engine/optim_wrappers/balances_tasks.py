"""The one test of whether an optim wrapper balances the tasks of a model."""
from typing import Union

from mmengine.optim import OptimWrapper

from .multitask_optim_wrapper import MultiTaskOptimWrapper


def balances_tasks(optim_wrapper: Union[OptimWrapper, type]) -> bool:
    """Whether ``optim_wrapper`` (an optim wrapper or its class) takes
    per-task losses through ``update_task_params`` (a
    :class:`MultiTaskOptimWrapper`) rather than one summed loss."""
    cls = optim_wrapper if isinstance(optim_wrapper, type) \
        else type(optim_wrapper)
    return issubclass(cls, MultiTaskOptimWrapper)
