"""Tasks: a head (and optionally its own neck) on the shared features."""
from .base_task import BaseTask
from .detection_task import DetectionTask
from .semantic_segmentation_task import SemanticSegmentationTask

__all__ = ['BaseTask', 'DetectionTask', 'SemanticSegmentationTask']
