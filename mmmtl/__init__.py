"""mmmtl: multi-task learning (detection + segmentation) for OpenMMLab.

Importing mmmtl registers its datasets, transforms, models, metrics,
visualizer, optim wrapper, DDP wrapper and balancers in the OpenMMLab
registries (use ``custom_imports=dict(imports=['mmmtl'])`` in a config).
"""
from .version import __version__

from . import utils  # noqa: F401,E402  (checkpoint loading under torch>=2.6)
from . import balancers, datasets, engine, evaluation, models  # noqa: F401,E402
from . import visualization  # noqa: F401,E402

__all__ = ['__version__']
