"""Gradient methods: Gramian weightings and Jacobian aggregators, one per
file. Most are torchjd 0.18 weightings behind :class:`TorchJDWeighting`."""
from .aligned_mtl import AlignedMTL
from .cagrad import CAGrad
from .config_method import ConFIG
from .cr_mogm import CRMOGM
from .db_mtl import DBMTL
from .dualproj import DualProj
from .excess_mtl import ExcessMTL
from .fairgrad import FairGrad
from .graddrop import GradDrop
from .gradvac import GradVac
from .imtl_g import IMTLG
from .mgda import MGDA, MGDAUB
from .moco import MoCo
from .modo import MoDo
from .nash_mtl import NashMTL
from .pcgrad import PCGrad
from .sdmgrad import SDMGrad
from .torchjd_adapter import SOLVERS_HINT, TorchJDWeighting
from .upgrad import UPGrad

__all__ = [
    'TorchJDWeighting', 'SOLVERS_HINT', 'PCGrad', 'GradVac', 'CAGrad',
    'MGDA', 'MGDAUB', 'IMTLG', 'AlignedMTL', 'UPGrad', 'DualProj',
    'FairGrad', 'NashMTL', 'ConFIG', 'GradDrop', 'DBMTL', 'SDMGrad', 'MoDo',
    'CRMOGM', 'ExcessMTL', 'MoCo'
]
