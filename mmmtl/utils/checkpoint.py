"""Load mmengine checkpoints under torch>=2.6 (``weights_only=True`` default).

mmengine 0.10.7 saves, besides tensors, its ``HistoryBuffer`` log buffers
(holding numpy arrays) in ``message_hub``; torch>=2.6 refuses to unpickle
those by default, so ``--resume`` and ``load_from`` fail with
``UnpicklingError: Weights only load failed``. Rather than turning the safe
loader off (``weights_only=False`` would run arbitrary code from a
downloaded checkpoint), mmmtl replaces mmengine's loader of local files with
one that allows exactly the extra classes mmengine itself writes.
"""
import os.path as osp
from typing import List

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader


def mmengine_checkpoint_globals() -> List[object]:
    """The classes and functions an mmengine checkpoint pickles, beyond tensors."""
    multiarray = getattr(np, '_core', None)
    multiarray = (multiarray.multiarray if multiarray is not None
                  else np.core.multiarray)
    allowed = [
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        multiarray._reconstruct,
        multiarray.scalar,
        # numpy>=1.25 pickles a dtype by its class, e.g. numpy.dtypes.Float64DType
        *(getattr(np.dtypes, name) for name in dir(getattr(np, 'dtypes', ()))
          if name.endswith('DType')),
        # numpy pickles those dtype classes through getattr(numpy.dtypes, name)
        getattr,
    ]
    return allowed


def load_from_local(filename: str, map_location=None):
    """mmengine's local-file loader, with mmengine's own classes allowed."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} can not be found.')
    with torch.serialization.safe_globals(mmengine_checkpoint_globals()):
        return torch.load(filename, map_location=map_location,
                          weights_only=True)


# Registered as mmengine's loader of local paths (prefix ''), as mmengine
# registers its own; every way mmengine loads a checkpoint (Runner.resume,
# load_from, init_cfg=Pretrained, load_checkpoint) goes through it.
CheckpointLoader.register_scheme(prefixes='', loader=load_from_local,
                                 force=True)
