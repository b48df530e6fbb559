"""The attention modules of MTAN (Liu et al. 2019)."""
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule, ModuleList
from torch import Tensor, nn


class AttentionMask(nn.Sequential):
    """``g`` then ``h`` of MTAN's attention module: two 1x1 convolutions with
    normalisation, ReLU after the first, a sigmoid after the second: a soft
    mask in (0, 1) with ``out_channels`` channels."""

    def __init__(self, in_channels: int, mid_channels: int,
                 out_channels: int, norm_cfg: dict) -> None:
        super().__init__(
            ConvModule(in_channels, mid_channels, 1, norm_cfg=norm_cfg,
                       act_cfg=dict(type='ReLU')),
            ConvModule(mid_channels, out_channels, 1, norm_cfg=norm_cfg,
                       act_cfg=dict(type='Sigmoid')))


class TaskAttentionChain(BaseModule):
    """One task's attention modules along the shared backbone's stages
    (Liu et al., "End-to-End Multi-Task Learning with Attention", CVPR
    2019, section 3.2).

    At stage ``j`` the shared network gives ``u_j`` (the stage's features
    before its last block) and ``p_j`` (the stage's output). The task's
    mask is computed from the shared features and the task's own features
    of the stage below,

        a_j = h_j(g_j([u_j, pool(f_{j-1}(â_{j-1}))]))   (a_0 from u_0 alone)

    and the task's features are ``â_j = a_j * p_j`` (element-wise), so the
    task selects from the shared features, stage after stage. ``f_j`` (a
    3x3 convolution with normalisation and ReLU, from stage ``j``'s channels
    to stage ``j+1``'s) and the max pooling to the next stage's size link
    the stages (``f_j`` maps ``p_j``'s channels to ``u_{j+1}``'s); the
    paper's code shares the ``f_j`` between the tasks, which the caller does
    by handing every chain the same ``block_convs``.

    Args:
        u_channels, p_channels (sequence[int]): Channels of ``u_j`` and
            ``p_j``, per stage.
        block_convs (ModuleList): The ``f_j`` (one fewer than stages).
        norm_cfg (dict): Normalisation of the mask convolutions.
    """

    def __init__(self, u_channels: Sequence[int], p_channels: Sequence[int],
                 block_convs: nn.ModuleList, norm_cfg: dict,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.block_convs = block_convs
        self.masks = ModuleList([
            AttentionMask(cu if j == 0 else 2 * cu, cp, cp, norm_cfg)
            for j, (cu, cp) in enumerate(zip(u_channels, p_channels))])

    @staticmethod
    def build_block_convs(u_channels: Sequence[int],
                          p_channels: Sequence[int],
                          norm_cfg: dict) -> nn.ModuleList:
        """The ``f_j``: ``p_j``'s channels to ``u_{j+1}``'s."""
        return ModuleList([
            ConvModule(c_in, c_out, 3, padding=1, norm_cfg=norm_cfg,
                       act_cfg=dict(type='ReLU'))
            for c_in, c_out in zip(p_channels[:-1], u_channels[1:])])

    def forward(self, shared: Sequence[Tensor]) -> List[Tensor]:
        """``shared``: ``u_0, p_0, u_1, p_1, ...``; returns ``â_0, â_1...``."""
        out: List[Tensor] = []
        for j, mask in enumerate(self.masks):
            u, p = shared[2 * j], shared[2 * j + 1]
            if j == 0:
                a = mask(u)
            else:
                prev = self.block_convs[j - 1](out[-1])
                prev = F.adaptive_max_pool2d(prev, u.shape[-2:])
                a = mask(torch.cat([u, prev.to(u.dtype)], dim=1))
            out.append(a * p)
        return out
