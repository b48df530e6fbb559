"""Task balancers: loss weightings and gradient aggregators.

``base.py`` defines the three kinds (see its docstring); ``weighting/`` and
``aggregation/`` hold one method per file, registered in ``BALANCERS``.
"""
from .aggregation import (CRMOGM, DBMTL, IMTLG, MGDA, MGDAUB, AlignedMTL,
                          CAGrad, ConFIG, DualProj, ExcessMTL, FairGrad,
                          GradDrop, GradVac, MoCo, MoDo, NashMTL, PCGrad,
                          SDMGrad, TorchJDWeighting, UPGrad)
from .base import (Balancer, GramianWeighting, JacobianAggregator,
                   LossWeighting, gramian_factor)
from .weighting import (DWA, FAMO, GLS, IMTLL, RLW, STCH, EqualWeighting,
                        GradNorm, ScalarizerWeighting, StaticWeighting,
                        UncertaintyWeighting)

__all__ = [
    'Balancer', 'LossWeighting', 'GramianWeighting', 'JacobianAggregator',
    'gramian_factor', 'TorchJDWeighting', 'ScalarizerWeighting',
    # loss weightings
    'StaticWeighting', 'EqualWeighting', 'UncertaintyWeighting', 'DWA',
    'RLW', 'GLS', 'FAMO', 'GradNorm', 'STCH', 'IMTLL',
    # gradient methods
    'PCGrad', 'GradVac', 'CAGrad', 'MGDA', 'MGDAUB', 'IMTLG', 'AlignedMTL',
    'UPGrad', 'DualProj', 'FairGrad', 'NashMTL', 'ConFIG', 'GradDrop',
    'DBMTL', 'SDMGrad', 'MoDo', 'CRMOGM', 'ExcessMTL', 'MoCo'
]
