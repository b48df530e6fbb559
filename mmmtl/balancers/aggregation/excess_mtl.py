"""ExcessMTL (He et al., 2024)."""
from typing import Optional, Tuple

from torch import Tensor
from torchjd.aggregation import ExcessMTLWeighting

from mmmtl.registry import BALANCERS
from ..base import JacobianAggregator
from .torchjd_adapter import EXCESS_MTL_STATE, HoldsTorchJD


@BALANCERS.register_module()
class ExcessMTL(HoldsTorchJD, JacobianAggregator):
    r"""Robust multi-task learning with excess risks.

    He, Zhou, Zhao & Koyejo, "Robust Multi-Task Learning with Excess
    Risks", ICML 2024 (arXiv:2402.02009), Algorithm 1.

    Weights the tasks by how far each is from its best achievable loss
    (its excess risk), estimated from the gradients alone: with
    :math:`S_t` the running sum of the squared gradients of task :math:`t`
    (an AdaGrad-style diagonal Hessian, Eq. 7),

    .. math::
        \hat E_t = \sum_j \frac{g_{tj}^2}{\sqrt{S_{tj}}}\quad (\text{Eq. 6}),
        \qquad
        w \leftarrow \mathrm{softmax}\big(\log w + \eta\,
            \hat E / \hat E^{(0)}\big)\quad (\text{Eq. 9}),

    :math:`\hat E^{(0)}` the excess risks of the first step (or the mean
    over ``n_warmup_steps``, during which the weights stay
    :math:`\frac1T`), from :math:`w = \frac1T\mathbf 1`; the update is
    :math:`J^\top w` (:math:`w` is logged as ``weight.<task>``). torchjd's
    ``ExcessMTLWeighting``; the weights, the
    sums :math:`S` (``T x P``) and the baseline are state (saved in
    checkpoints).

    :math:`S` lives in the coordinates of the Jacobian, which change from
    step to step in feature mode (other samples); the paper sums the
    squared gradients of the shared parameters, so this class forces the
    optim wrapper's parameter mode (``jacobian_mode = 'parameter'``).

    Args:
        robust_step_size (float): :math:`\eta > 0`. Default 1.0.
        n_warmup_steps (int): Steps with uniform weights that set the
            baseline (the paper's appendix C.1 warms up 3 epochs). Default
            1: the first step keeps :math:`\frac1T` and its excess risks
            are the baseline, so every exponent is a ratio, whatever the
            gradients' scale. 0 is the authors' code: the first step's
            exponent is the raw :math:`\hat E` (about :math:`\|g_t\|_1`
            then), which grows with the gradients and the parameter
            count; on the demo (800k shared parameters, parameter mode) it
            put detection's weight at exactly 0 from the first step, and a
            0 never recovers (the update works on :math:`\log w`).
        num_tasks (int, optional): Number of tasks.
    """

    supports_task_subsets = False
    jacobian_mode = 'parameter'
    torchjd_state = EXCESS_MTL_STATE

    def __init__(self, robust_step_size: float = 1.0,
                 n_warmup_steps: int = 1,
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        self._build(lambda: ExcessMTLWeighting(robust_step_size,
                                               n_warmup_steps))

    def aggregate(self, losses: Tensor, jacobian: Tensor
                  ) -> Tuple[Tensor, Tensor]:
        self._torchjd_state_on(jacobian.device)
        weights = self.weighting(jacobian)
        return weights, weights @ jacobian
