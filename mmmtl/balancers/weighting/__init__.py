"""Loss weightings (and GradNorm, which reads the Gramian's diagonal), one
per file."""
from .dwa import DWA
from .famo import FAMO
from .gls import GLS
from .gradnorm import GradNorm
from .rlw import RLW
from .static_weighting import EqualWeighting, StaticWeighting
from .uncertainty_weighting import UncertaintyWeighting

__all__ = [
    'StaticWeighting', 'EqualWeighting', 'UncertaintyWeighting', 'DWA',
    'RLW', 'GLS', 'GradNorm', 'FAMO'
]
