"""Multi-task models: a shared backbone/neck and task modules."""
from .architectures import (CrossStitchDetector, MTANDetector,
                            SharingTreeDetector)
from .detectors import MultiTaskDetector
from .shared_features import SharedFeatures
from .tasks import (BaseTask, DetectionTask, ImageClassificationTask,
                    SemanticSegmentationTask, TwoStageDetectionTask)

__all__ = [
    'CrossStitchDetector', 'MTANDetector', 'SharingTreeDetector',
    'MultiTaskDetector', 'SharedFeatures', 'BaseTask', 'DetectionTask',
    'SemanticSegmentationTask', 'TwoStageDetectionTask', 'ImageClassificationTask'
]
