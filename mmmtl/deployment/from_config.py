"""The exportable model and its default input size, from a config."""
import math
from typing import Optional, Tuple

from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

from .raw_outputs import RawOutputModel


def load_exportable_model(cfg: Config,
                          checkpoint: Optional[str] = None) -> RawOutputModel:
    """Build ``cfg.model`` (in the config's default scope), load
    ``checkpoint`` into it and wrap it as a :class:`RawOutputModel` (CPU,
    eval mode)."""
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    detector = MODELS.build(cfg.model)
    if checkpoint is not None:
        load_checkpoint(detector, checkpoint, map_location='cpu')
    return RawOutputModel(detector.eval()).eval()


def default_export_shape(cfg: Config) -> Tuple[int, int]:
    """(H, W): the test pipeline's ``Resize`` scale, padded to the data
    preprocessor's ``pad_size_divisor``."""
    try:
        pipeline = cfg.test_dataloader.dataset.pipeline
    except AttributeError:
        pipeline = []
    scales = [t['scale'] for t in pipeline
              if str(t.get('type', '')).endswith('Resize') and 'scale' in t]
    if not scales:
        raise ValueError('the config\'s test pipeline has no Resize with a '
                         'scale: give the input size with --shape H W')
    width, height = (scales[0], scales[0]) if isinstance(scales[0], int) \
        else scales[0]
    divisor = cfg.model.get('data_preprocessor', {}).get(
        'pad_size_divisor', 1) or 1
    return (int(math.ceil(height / divisor) * divisor),
            int(math.ceil(width / divisor) * divisor))
