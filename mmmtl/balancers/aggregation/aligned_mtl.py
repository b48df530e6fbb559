"""Aligned-MTL (Senushkin et al., 2023)."""
from typing import Optional, Sequence

from torchjd.aggregation import AlignedMTLWeighting

from mmmtl.registry import BALANCERS
from ._pref import pref_tensor
from .torchjd_adapter import TorchJDWeighting


@BALANCERS.register_module()
class AlignedMTL(TorchJDWeighting):
    r"""Aligned-MTL: align the principal components of the task gradients.

    Senushkin, Patakin, Kuznetsov & Konushin, "Independent Component
    Alignment for Multi-Task Learning", CVPR 2023 (arXiv:2305.19000),
    Algorithm 1.

    Replaces the task gradients by the closest system with condition
    number 1: with the eigendecomposition :math:`G = V \Lambda V^\top`
    restricted to its rank :math:`R`, the aligned gradients are
    :math:`\hat J = B J` with

    .. math::
        B = \sqrt{\lambda_{\min}}\; V \Lambda^{-1/2} V^\top ,

    (all their singular values equal :math:`\sqrt{\lambda_{\min}}`), and the
    update is :math:`\hat J^\top p = J^\top (B p)`, so the weights are
    :math:`w = B p`, :math:`p` the preference vector (default
    :math:`\frac1T\mathbf 1`). torchjd's ``AlignedMTLWeighting``.

    Args:
        pref_vector (Sequence[float], optional): :math:`p`; default
            :math:`1/T` each.
        scale_mode (str): The scale :math:`\lambda_{\min}` (``'min'``, the
            paper's), or the median (``'median'``) or mean (``'rmse'``, the
            authors' code) eigenvalue.
        num_tasks (int, optional): Number of tasks.
        update_scale (str, optional): ``'paper'`` (default), ``'sum'`` or
            ``'norm'``: see :class:`TorchJDWeighting`.
        recompute_every (int): Compute the weights every this many
            steps, reuse them in between (see :class:`GramianWeighting`).
            Default 1.
    """

    def __init__(self, pref_vector: Optional[Sequence[float]] = None,
                 scale_mode: str = 'min',
                 num_tasks: Optional[int] = None,
                 update_scale: Optional[str] = None,
                 recompute_every: int = 1) -> None:
        super().__init__(num_tasks=num_tasks, update_scale=update_scale,
                         recompute_every=recompute_every)
        if scale_mode not in ('min', 'median', 'rmse'):
            raise ValueError(f"AlignedMTL: scale_mode must be 'min', "
                             f"'median' or 'rmse', got {scale_mode!r}")
        pref = pref_tensor('AlignedMTL', pref_vector, num_tasks)
        self._build(lambda: AlignedMTLWeighting(pref, scale_mode=scale_mode))
