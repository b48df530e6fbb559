"""Training machinery: the task-balancing optim wrapper and the DDP wrapper."""
from .model_wrappers import MultiTaskDistributedDataParallel
from .optim_wrappers import (MultiTaskOptimWrapper,
                             MultiTaskOptimWrapperConstructor)

__all__ = [
    'MultiTaskOptimWrapper', 'MultiTaskOptimWrapperConstructor',
    'MultiTaskDistributedDataParallel'
]
