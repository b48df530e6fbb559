"""Training machinery: the task-balancing optim wrapper and the DDP wrapper."""
from .hooks import AlternatingTasksHook, StagedTrainingHook
from .model_wrappers import MultiTaskDistributedDataParallel
from .optim_wrappers import (MultiTaskOptimWrapper,
                             MultiTaskOptimWrapperConstructor, balances_tasks)

__all__ = [
    'MultiTaskOptimWrapper', 'MultiTaskOptimWrapperConstructor',
    'MultiTaskDistributedDataParallel', 'AlternatingTasksHook',
    'StagedTrainingHook', 'balances_tasks'
]
