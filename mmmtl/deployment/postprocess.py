"""Turn raw outputs computed outside PyTorch (e.g. by onnxruntime) into the
detector's predictions, with each task's own ``predict_by_feat``."""
import math
from typing import Dict, List, Sequence

import numpy as np
import torch
from mmdet.models.utils import samplelist_boxtype2tensor
from mmdet.structures import DetDataSample
from torch import Tensor, nn

from .onnx_export import onnx_session, run_onnxruntime
from .raw_outputs import group_raw_outputs


def pixel_batch(data_preprocessor: nn.Module, images: Sequence[Tensor],
                data_samples: List[DetDataSample]) -> Tensor:
    """The exported graph's input for images as the test pipeline gives
    them (uint8 3 x h x w, channel order of the loader): a float32 batch
    padded as the data preprocessor pads (bottom/right, to
    ``pad_size_divisor``, with the value that normalises to its
    ``pad_value``); sets ``batch_input_shape`` and ``pad_shape`` in the
    samples as the preprocessor does."""
    divisor = getattr(data_preprocessor, 'pad_size_divisor', 1) or 1

    def padded(n):
        return int(math.ceil(n / divisor) * divisor)

    height = padded(max(img.shape[1] for img in images))
    width = padded(max(img.shape[2] for img in images))
    fill = torch.full((3, 1, 1), float(data_preprocessor.pad_value))
    if getattr(data_preprocessor, '_enable_normalize', False):
        fill = fill * data_preprocessor.std + data_preprocessor.mean
    if getattr(data_preprocessor, '_channel_conversion', False):
        fill = fill.flip(0)           # back to the loader's channel order
    batch = fill.expand(len(images), 3, height, width).clone()
    for i, (img, sample) in enumerate(zip(images, data_samples)):
        h, w = img.shape[1:]
        batch[i, :, :h, :w] = img.float()
        sample.set_metainfo(dict(batch_input_shape=(height, width),
                                 pad_shape=(padded(h), padded(w))))
    return batch


def predict_from_raw_outputs(detector: nn.Module,
                             raw: Dict[str, np.ndarray],
                             data_samples: List[DetDataSample],
                             rescale: bool = True) -> List[DetDataSample]:
    """Write every task's predictions into ``data_samples`` from the raw
    outputs ``raw`` (name -> array, as the exported graph names them),
    exactly as ``detector.predict`` does from its own forward pass."""
    grouped = group_raw_outputs(
        {k: torch.as_tensor(np.asarray(v)) for k, v in raw.items()})
    for name, task in detector.predicted_tasks.items():
        if name not in grouped:
            raise KeyError(f'no raw outputs for task {name!r} among '
                           f'{sorted(raw)}')
        with torch.no_grad():
            task.predict_by_feat(grouped[name], data_samples, rescale)
    samplelist_boxtype2tensor(data_samples)
    return data_samples


class OnnxMultiTaskPredictor:
    """Predictions of an exported model, post-processed by the detector's
    heads: ``OnnxMultiTaskPredictor(onnx_file, detector)(data)`` for a batch
    as the test pipeline and ``pseudo_collate`` give it. The detector (built
    from the config; its weights are not used) supplies the
    post-processing: anchors, box coder, NMS and score threshold, resizing
    of the segmentation logits."""

    def __init__(self, onnx_file: str, detector: nn.Module) -> None:
        self.session = onnx_session(onnx_file)
        self.detector = detector.eval()

    def run(self, image: Tensor) -> Dict[str, np.ndarray]:
        """The graph's raw outputs for a pixel batch (see :func:`pixel_batch`)."""
        return run_onnxruntime(self.session, image.numpy())

    def __call__(self, data: dict) -> List[DetDataSample]:
        samples = data['data_samples']
        image = pixel_batch(self.detector.data_preprocessor, data['inputs'],
                            samples)
        return predict_from_raw_outputs(self.detector, self.run(image),
                                        samples)
