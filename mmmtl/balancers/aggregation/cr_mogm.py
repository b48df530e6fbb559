"""CR-MOGM (Zhou et al., 2022)."""
from typing import Optional

from torch import Tensor
from torchjd.aggregation import CRMOGMWeighting, Weighting

from mmmtl.registry import BALANCERS
from ..base import GramianWeighting
from .torchjd_adapter import CR_MOGM_STATE, HoldsTorchJD


class _GivenWeights(Weighting):
    """The torchjd weighting whose weights are its input (so that
    ``CRMOGMWeighting`` smooths weights computed elsewhere)."""

    def forward(self, weights: Tensor, /) -> Tensor:
        return weights


@BALANCERS.register_module()
class CRMOGM(HoldsTorchJD, GramianWeighting):
    r"""Correlation-Reduced Multi-Objective Gradient Manipulation.

    Zhou, Zhang, Jiang, Li, Xu, Yang & Zhao, "On the Convergence of
    Stochastic Multi-Objective Gradient Manipulation and Beyond", NeurIPS
    2022.

    Stochastic gradient manipulation (MGDA, PCGrad, CAGrad, ...) computes
    its weights from the same mini-batch as the gradients they combine,
    which biases the update and breaks convergence; CR-MOGM smooths the
    weights across steps,

    .. math::
        \lambda_k = \alpha\,\lambda_{k-1} + (1-\alpha)\,\hat\lambda_k ,

    :math:`\hat\lambda_k` the wrapped method's weights at step :math:`k`
    (:math:`\lambda_0 = \hat\lambda_1`), and updates with
    :math:`J^\top\lambda_k`. torchjd's ``CRMOGMWeighting``; the smoothed
    weights are state (saved in checkpoints). The paper's Corollary 1 lets
    :math:`\alpha` grow toward 1 as the learning rate decays; here it is
    fixed.

    Args:
        base (dict): Config of the wrapped Gramian weighting. Default
            ``dict(type='MGDA')``.
        alpha (float): :math:`\alpha \in [0, 1]`. Default 0.9.
        num_tasks (int, optional): Number of tasks (passed to ``base``).
        recompute_every (int): Compute the smoothed weights every this many
            steps, reuse them in between (see :class:`GramianWeighting`).
            Default 1.
    """

    supports_task_subsets = False
    torchjd_state = CR_MOGM_STATE

    def __init__(self, base: Optional[dict] = None, alpha: float = 0.9,
                 num_tasks: Optional[int] = None,
                 recompute_every: int = 1) -> None:
        super().__init__(num_tasks=num_tasks,
                         recompute_every=recompute_every)
        cfg = dict(base or dict(type='MGDA'))
        cfg.setdefault('num_tasks', num_tasks)
        self.base = BALANCERS.build(cfg)
        if not isinstance(self.base, GramianWeighting):
            raise TypeError(f'CRMOGM: `base` must be a Gramian weighting, '
                            f'got {type(self.base).__name__}')
        # the mode and head weighting the wrapped method is meant for
        self.jacobian_mode = self.base.jacobian_mode
        self.weights_heads = self.base.weights_heads
        self._build(lambda: CRMOGMWeighting(_GivenWeights(), alpha=alpha))

    def weigh(self, losses: Tensor, gramian: Tensor) -> Tensor:
        self._torchjd_state_on(gramian.device)
        return self.weighting(self.base(losses, gramian))
