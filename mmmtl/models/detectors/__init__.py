from .multitask_detector import MultiTaskDetector

__all__ = ['MultiTaskDetector']
