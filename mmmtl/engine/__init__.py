"""Training machinery: the task-balancing optim wrapper and the DDP wrapper."""
from .hooks import AlternatingTasksHook, StagedTrainingHook
from .model_wrappers import MultiTaskDistributedDataParallel
from .optim_wrappers import (MultiTaskOptimWrapper,
                             MultiTaskOptimWrapperConstructor)

__all__ = [
    'MultiTaskOptimWrapper', 'MultiTaskOptimWrapperConstructor',
    'MultiTaskDistributedDataParallel', 'AlternatingTasksHook',
    'StagedTrainingHook'
]
