"""Deployment: the model as one ONNX graph, and the post-processing of its
raw outputs by the heads' own ``predict_by_feat``."""
from .from_config import default_export_shape, load_exportable_model
from .onnx_export import (check_export, example_image, export_onnx,
                          max_abs_diffs)
from .postprocess import (OnnxMultiTaskPredictor, pixel_batch,
                          predict_from_raw_outputs)
from .raw_outputs import (RawOutputModel, free_size_upsampling,
                          group_raw_outputs, name_task_outputs)

__all__ = [
    'RawOutputModel', 'free_size_upsampling', 'name_task_outputs', 'group_raw_outputs',
    'export_onnx', 'check_export', 'max_abs_diffs', 'example_image',
    'load_exportable_model', 'default_export_shape', 'pixel_batch',
    'predict_from_raw_outputs', 'OnnxMultiTaskPredictor'
]
