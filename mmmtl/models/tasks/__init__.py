"""Tasks: a head (and optionally its own neck) on the shared features."""
from .base_task import BaseTask
from .depth_estimation_task import DepthEstimationTask
from .detection_task import DetectionTask
from .domain_discriminator_task import DomainDiscriminatorTask
from .image_classification_task import ImageClassificationTask
from .semantic_segmentation_task import SemanticSegmentationTask
from .two_stage_detection_task import TwoStageDetectionTask

__all__ = [
    'BaseTask', 'DetectionTask', 'TwoStageDetectionTask',
    'SemanticSegmentationTask', 'ImageClassificationTask',
    'DepthEstimationTask', 'DomainDiscriminatorTask'
]
