"""Multi-task models: a shared backbone/neck and task modules."""
from .detectors import MultiTaskDetector
from .tasks import BaseTask, DetectionTask, SemanticSegmentationTask

__all__ = [
    'MultiTaskDetector', 'BaseTask', 'DetectionTask',
    'SemanticSegmentationTask'
]
