"""Using a trained model: inference on images."""
from .multitask_inferencer import MultiTaskInferencer

__all__ = ['MultiTaskInferencer']
