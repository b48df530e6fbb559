from .alternating_tasks_hook import AlternatingTasksHook
from .random_state_hook import RandomStateHook
from .run_metrics_hook import RunMetricsHook
from .staged_training_hook import StagedTrainingHook

__all__ = [
    'AlternatingTasksHook', 'StagedTrainingHook', 'RunMetricsHook',
    'RandomStateHook'
]
