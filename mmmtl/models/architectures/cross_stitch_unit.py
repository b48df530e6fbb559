"""The cross-stitch unit of Misra et al. 2016."""
from typing import List, Optional, Sequence

import torch
from mmengine.model import BaseModule, ModuleList
from torch import Tensor, nn


class CrossStitchRow(nn.Module):
    """One output of a cross-stitch unit: ``y_t = sum_s alpha[t, s] x_s``.

    ``weight`` holds row ``t`` of the unit's alpha matrix: shape ``(T,)``,
    or ``(T, C)`` with one alpha per channel.
    """

    def __init__(self, weight: Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight)

    def forward(self, xs: Sequence[Tensor]) -> Tensor:
        out = None
        for alpha, x in zip(self.weight, xs):
            if alpha.dim() == 1:  # per channel
                alpha = alpha.view(1, -1, *([1] * (x.dim() - 2)))
            term = alpha * x
            out = term if out is None else out + term
        return out


class CrossStitchUnit(BaseModule):
    """Cross-stitch unit (Misra et al., "Cross-stitch Networks for Multi-task
    Learning", CVPR 2016, eq. 1): the activation maps ``x_1 .. x_T`` of
    ``T`` networks (columns) at one layer are mixed linearly,

        [y_1, .., y_T]^T = A [x_1, .., x_T]^T,

    with a learned ``T x T`` matrix ``A`` (per channel with
    ``per_channel=True``: a ``T x T`` matrix for every channel, as the
    paper's units act on each channel of the maps). Each ``y_t`` goes on
    into column ``t``. ``A`` starts at ``alpha_self`` on its diagonal and
    ``alpha_other`` elsewhere (the paper's best start: ``(0.9, 0.1)`` for
    two tasks; the default ``alpha_other`` is ``(1 - alpha_self) / (T - 1)``
    so that every row sums to 1). The paper trains ``A`` with a learning
    rate 10^2-10^3 times that of the networks: in mmengine, e.g.
    ``paramwise_cfg=dict(custom_keys={'stitch': dict(lr_mult=100.)})``.

    Row ``t`` of ``A`` is a module of its own (:class:`CrossStitchRow`,
    ``rows[t]``), so that an architecture can hand it to column ``t``'s
    task(s) alone.

    Args:
        num_columns (int): ``T``.
        channels (int): Channels of the maps (used with ``per_channel``).
        alpha_self (float): Initial diagonal. Default 0.9.
        alpha_other (float, optional): Initial off-diagonal entries.
        per_channel (bool): One matrix per channel. Default True.
    """

    def __init__(self, num_columns: int, channels: int,
                 alpha_self: float = 0.9,
                 alpha_other: Optional[float] = None,
                 per_channel: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_columns < 2:
            raise ValueError('a cross-stitch unit mixes at least 2 columns, '
                             f'got num_columns={num_columns}')
        if alpha_other is None:
            alpha_other = (1.0 - alpha_self) / (num_columns - 1)
        shape = (num_columns, channels) if per_channel else (num_columns, )
        self.rows = ModuleList()
        for t in range(num_columns):
            weight = torch.full(shape, float(alpha_other))
            weight[t] = alpha_self
            self.rows.append(CrossStitchRow(weight))

    @property
    def alpha(self) -> Tensor:
        """The matrix ``A``: ``(T, T)``, or ``(T, T, C)`` per channel."""
        return torch.stack([row.weight for row in self.rows])

    def forward(self, xs: Sequence[Tensor]) -> List[Tensor]:
        if len(xs) != len(self.rows):
            raise ValueError(f'cross-stitch unit of {len(self.rows)} columns '
                             f'got {len(xs)} maps')
        return [row(xs) for row in self.rows]
