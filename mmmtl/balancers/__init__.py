"""Task balancers: loss weightings and gradient aggregators.

``base.py`` defines the three kinds (see its docstring); ``weighting/`` and
``aggregation/`` hold one method per file, registered in ``BALANCERS``.
"""
from .aggregation import (DBMTL, IMTLG, MGDA, MGDAUB, AlignedMTL, CAGrad,
                          ConFIG, DualProj, FairGrad, GradDrop, GradVac,
                          NashMTL, PCGrad, TorchJDWeighting, UPGrad)
from .base import (Balancer, GramianWeighting, JacobianAggregator,
                   LossWeighting, gramian_factor)
from .weighting import (DWA, FAMO, GLS, RLW, EqualWeighting, GradNorm,
                        StaticWeighting, UncertaintyWeighting)

__all__ = [
    'Balancer', 'LossWeighting', 'GramianWeighting', 'JacobianAggregator',
    'gramian_factor', 'TorchJDWeighting',
    # loss weightings
    'StaticWeighting', 'EqualWeighting', 'UncertaintyWeighting', 'DWA',
    'RLW', 'GLS', 'FAMO', 'GradNorm',
    # gradient methods
    'PCGrad', 'GradVac', 'CAGrad', 'MGDA', 'MGDAUB', 'IMTLG', 'AlignedMTL',
    'UPGrad', 'DualProj', 'FairGrad', 'NashMTL', 'ConFIG', 'GradDrop',
    'DBMTL'
]
