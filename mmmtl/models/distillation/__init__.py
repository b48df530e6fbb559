"""Multi-task distillation from single-task teachers (Li & Bilen 2020)."""
from .data_preprocessor import DistillationDataPreprocessor
from .losses import logit_divergence, normalized_feature_distance
from .task_distiller import TaskDistiller
from .teachers import load_teacher

__all__ = [
    'DistillationDataPreprocessor', 'TaskDistiller', 'load_teacher',
    'logit_divergence', 'normalized_feature_distance'
]
