from .depth_loading import LoadDepthAnnotation
from .formatting import PackMultiTaskInputs
from .image_label import SetImageLabel
from .loading import LoadMultiTaskAnnotations

__all__ = ['LoadMultiTaskAnnotations', 'LoadDepthAnnotation',
           'PackMultiTaskInputs', 'SetImageLabel']
