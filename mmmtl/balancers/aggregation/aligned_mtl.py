"""Aligned-MTL (Senushkin et al., 2023)."""
from typing import Optional

from torchjd.aggregation import AlignedMTLWeighting

from mmmtl.registry import BALANCERS
from .torchjd_adapter import TorchJDWeighting


@BALANCERS.register_module()
class AlignedMTL(TorchJDWeighting):
    r"""Aligned-MTL.

    Senushkin, Patakin, Kuznetsov & Konushin, "Independent Component
    Alignment for Multi-Task Learning", CVPR 2023 (arXiv:2305.19000).

    Makes the system of task gradients well conditioned: with the
    eigendecomposition :math:`G = V \Lambda V^\top`, the aligned gradients
    are :math:`\hat J = \sigma V \Lambda^{-1/2} V^\top J` (condition number
    1), :math:`\sigma` the smallest singular value (``scale_mode='min'``,
    or the median / RMSE); the update is their mean, i.e. weights
    :math:`w = \frac{\sigma}{T} V \Lambda^{-1/2} V^\top \mathbf 1`.
    """

    def __init__(self, scale_mode: str = 'min',
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        self._build(lambda: AlignedMTLWeighting(scale_mode=scale_mode))
