"""Multi-task models: a shared backbone/neck and task modules."""
from .detectors import MultiTaskDetector
from .tasks import (BaseTask, DetectionTask, ImageClassificationTask,
                    SemanticSegmentationTask, TwoStageDetectionTask)

__all__ = [
    'MultiTaskDetector', 'BaseTask', 'DetectionTask',
    'SemanticSegmentationTask', 'TwoStageDetectionTask', 'ImageClassificationTask'
]
