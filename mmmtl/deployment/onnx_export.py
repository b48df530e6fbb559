"""Export the multi-task detector to ONNX and check it with onnxruntime."""
from typing import Dict, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from .raw_outputs import RawOutputModel

INPUT_NAME = 'image'


def example_image(shape: Tuple[int, int], batch_size: int = 1,
                  seed: int = 0) -> Tensor:
    """A float32 batch of random pixels (0-255) of ``shape`` (H, W)."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch_size, 3, *shape, generator=g) * 255


def export_onnx(model: RawOutputModel, out_file: str,
                shape: Tuple[int, int], dynamic: bool = False,
                opset: int = 17, batch_size: int = 1) -> Sequence[str]:
    """Write ``model`` to ``out_file`` (input ``image``: N x 3 x H x W
    float32 pixels; one output per raw tensor, see
    :mod:`mmmtl.deployment.raw_outputs`). ``dynamic`` leaves N, H and W
    free. Returns the output names."""
    if opset < 17:
        raise ValueError(f'opset {opset}: 17 or newer is needed')
    model = model.eval()
    image = example_image(shape, batch_size)
    names = list(model.output_names(image))
    dynamic_shapes = None
    if dynamic:
        dim = torch.export.Dim.AUTO
        dynamic_shapes = {'image': {0: dim, 2: dim, 3: dim}}
    with torch.no_grad():
        torch.onnx.export(
            model, (image, ), out_file, input_names=[INPUT_NAME],
            output_names=names, opset_version=opset, dynamo=True,
            dynamic_shapes=dynamic_shapes, external_data=False)
    return names


def onnx_session(onnx_file: str):
    """An onnxruntime session of ``onnx_file`` on the CPU."""
    try:
        import onnxruntime as ort
    except ImportError as err:
        raise ImportError(
            'checking an ONNX export needs onnxruntime: pip install '
            '"mmmtl[onnx]" (or -r requirements/onnx.txt)') from err
    return ort.InferenceSession(onnx_file,
                                providers=['CPUExecutionProvider'])


def run_onnxruntime(session, image: np.ndarray) -> Dict[str, np.ndarray]:
    """Output name -> array, for the float32 batch ``image``."""
    names = [o.name for o in session.get_outputs()]
    input_name = session.get_inputs()[0].name
    outputs = session.run(names, {input_name: image.astype(np.float32)})
    return dict(zip(names, outputs))


def max_abs_diffs(onnx_file: str, model: RawOutputModel,
                  image: Tensor) -> Dict[str, float]:
    """Output name -> largest absolute difference between onnxruntime and
    PyTorch on ``image``."""
    ort_outputs = run_onnxruntime(onnx_session(onnx_file), image.numpy())
    with torch.no_grad():
        torch_outputs = dict(model.eval().named_outputs(image))
    if list(ort_outputs) != list(torch_outputs):
        raise ValueError(f'{onnx_file}: outputs {list(ort_outputs)} are not '
                         f'the model\'s {list(torch_outputs)}')
    diffs = {}
    for name, value in ort_outputs.items():
        expected = torch_outputs[name].numpy()
        if value.shape != expected.shape:
            raise ValueError(f'{onnx_file}: output {name} has shape '
                             f'{value.shape}, PyTorch {expected.shape}')
        diffs[name] = float(np.abs(value - expected).max())
    return diffs


def check_export(onnx_file: str, model: RawOutputModel,
                 shape: Tuple[int, int],
                 dynamic: bool = False) -> Dict[str, float]:
    """Largest |onnxruntime - PyTorch| of each output on a random batch of
    ``shape``; for a ``dynamic`` export also on a batch of two images of
    another size (the largest difference over both)."""
    cases = [(shape, 1)]
    if dynamic:
        divisor = getattr(model.detector.data_preprocessor,
                          'pad_size_divisor', 1) or 1
        cases.append(((shape[0] + divisor, shape[1] + 2 * divisor), 2))
    diffs: Dict[str, float] = {}
    for seed, (hw, batch_size) in enumerate(cases):
        image = example_image(hw, batch_size, seed=seed)
        for name, diff in max_abs_diffs(onnx_file, model, image).items():
            diffs[name] = max(diffs.get(name, 0.0), diff)
    return diffs
