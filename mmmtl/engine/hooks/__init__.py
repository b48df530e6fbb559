from .alternating_tasks_hook import AlternatingTasksHook
from .config_check_hook import ConfigCheckHook
from .gradient_reversal_schedule_hook import GradientReversalScheduleHook
from .random_state_hook import RandomStateHook
from .run_metrics_hook import RunMetricsHook
from .staged_training_hook import StagedTrainingHook

__all__ = [
    'AlternatingTasksHook', 'StagedTrainingHook', 'RunMetricsHook',
    'RandomStateHook', 'ConfigCheckHook', 'GradientReversalScheduleHook'
]
