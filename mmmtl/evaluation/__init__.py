from .depth_estimation_metric import DepthEstimationMetric
from .image_classification_metric import ImageClassificationMetric
from .seg_iou_metric import SegIoUMetric

__all__ = ['SegIoUMetric', 'ImageClassificationMetric', 'DepthEstimationMetric']
