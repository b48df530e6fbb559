"""Task balancers: loss weightings and gradient aggregators.

``base.py`` defines the three kinds (see its docstring); ``weighting/`` and
``aggregation/`` hold one method per file, registered in ``BALANCERS``.
"""
from .aggregation import *  # noqa: F401,F403
from .base import (Balancer, GramianWeighting, JacobianAggregator,
                   LossWeighting, gramian_factor)
from .weighting import *  # noqa: F401,F403

__all__ = [
    'Balancer', 'LossWeighting', 'GramianWeighting', 'JacobianAggregator',
    'gramian_factor'
]
