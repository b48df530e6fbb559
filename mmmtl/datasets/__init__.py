"""Datasets with detection and segmentation labels, and their transforms."""
from .multitask_coco import MultiTaskCocoDataset
from .synthetic_dataset import SyntheticMultiTaskDataset
from .transforms import LoadMultiTaskAnnotations, PackMultiTaskInputs

__all__ = [
    'MultiTaskCocoDataset', 'SyntheticMultiTaskDataset',
    'LoadMultiTaskAnnotations', 'PackMultiTaskInputs'
]
