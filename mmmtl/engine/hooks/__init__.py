from .alternating_tasks_hook import AlternatingTasksHook
from .staged_training_hook import StagedTrainingHook

__all__ = ['AlternatingTasksHook', 'StagedTrainingHook']
