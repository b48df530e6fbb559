"""Loss weightings (and GradNorm, which reads the Gramian's diagonal), one
per file."""
from .dwa import DWA
from .famo import FAMO
from .gls import GLS
from .gradnorm import GradNorm
from .imtl_l import IMTLL
from .rlw import RLW
from .scalarizer_adapter import ScalarizerWeighting
from .static_weighting import EqualWeighting, StaticWeighting
from .stch import STCH
from .uncertainty_weighting import UncertaintyWeighting

__all__ = [
    'StaticWeighting', 'EqualWeighting', 'UncertaintyWeighting', 'DWA',
    'RLW', 'GLS', 'GradNorm', 'FAMO', 'STCH', 'IMTLL', 'ScalarizerWeighting'
]
