"""MoCo (Fernando et al., 2023)."""
from typing import Optional, Tuple

from torch import Tensor
from torchjd.aggregation import MoDoWeighting

from mmmtl.registry import BALANCERS
from ..base import JacobianAggregator
from .gradient_average import GradientAverage
from .torchjd_adapter import MODO_STATE, HoldsTorchJD


@BALANCERS.register_module()
class MoCo(GradientAverage, HoldsTorchJD, JacobianAggregator):
    r"""Multi-objective gradient with Correction.

    Fernando, Shen, Liu, Chaudhury, Murugesan & Chen, "Mitigating Gradient
    Bias in Multi-objective Learning: A Provably Convergent Approach",
    ICLR 2023 (arXiv:2210.12624), Algorithm 1.

    MGDA's weights computed from stochastic gradients are biased; MoCo
    tracks each task's gradient with a running average :math:`y_t` and
    takes one projected step on the weights per training step:

    .. math::
        y_t &\leftarrow y_t - \beta_k\,(y_t - \tilde g_t), \\
        \lambda &\leftarrow \Pi_\Delta\big(\lambda - \gamma_k\,
            (Y Y^\top + \rho I)\,\lambda\big), \\
        \text{update} &= Y^\top \lambda ,

    with :math:`\beta_k = \beta / k^{\sigma_\beta}`, :math:`\gamma_k =
    \gamma / k^{\sigma_\gamma}` at step :math:`k = 1, 2, \dots`, :math:`y_t
    = 0` and :math:`\lambda = \frac1T\mathbf 1` at the start, and
    :math:`\tilde g_t = g_t` (the paper's rule). ``normalize_grads=True``
    uses :math:`\tilde g_t = L_t\, g_t/\|g_t\|` instead, as the authors'
    code (and LibMTL) do. The :math:`\lambda` step is MoDo's, applied to the
    tracked gradients' Gramian: torchjd's ``MoDoWeighting``. :math:`Y`,
    :math:`\lambda` and :math:`k` are state (saved in checkpoints); the
    logged task weights (``weight.<task>``) are :math:`\lambda`.

    **Scale.** :math:`\gamma` multiplies :math:`Y Y^\top`, whose scale is
    that of the gradients squared: with gradients of norm 0.02 to 0.2 (the
    demo) :math:`\lambda` never leaves :math:`\frac1T\mathbf 1`, with
    norms of 25 (the hard preset) the first steps throw it onto a vertex.
    ``step_scale='relative'`` (default, as :class:`MoDo`) takes the step
    on :math:`Y Y^\top / s` (:math:`s` its mean diagonal), so that
    :math:`\lambda` moves alike whatever the gradients' scale (the
    weights on :math:`cY` are those on :math:`Y`); ``'paper'`` on
    :math:`Y Y^\top` itself. Both move :math:`\lambda` towards MGDA's
    weights on the tracked gradients.

    The average lives in the coordinates of the Jacobian; the paper tracks
    the gradients of the shared parameters, so this class forces the optim
    wrapper's parameter mode (``jacobian_mode = 'parameter'``).

    Args:
        beta (float): :math:`\beta \in (0, 1]`. Default 0.5.
        beta_sigma (float): :math:`\sigma_\beta`. Default 0.5.
        gamma (float): :math:`\gamma > 0`. Default 0.1.
        gamma_sigma (float): :math:`\sigma_\gamma`. Default 0.5.
        rho (float): :math:`\rho \ge 0`. Default 0.
        normalize_grads (bool): See above. Default False.
        step_scale (str): ``'relative'`` or ``'paper'`` (see above).
        num_tasks (int, optional): Number of tasks.

    (Defaults: LibMTL's.)
    """

    supports_task_subsets = False
    jacobian_mode = 'parameter'
    torchjd_state = MODO_STATE

    def __init__(self, beta: float = 0.5, beta_sigma: float = 0.5,
                 gamma: float = 0.1, gamma_sigma: float = 0.5,
                 rho: float = 0.0, normalize_grads: bool = False,
                 step_scale: str = 'relative',
                 num_tasks: Optional[int] = None) -> None:
        super().__init__(num_tasks=num_tasks)
        if step_scale not in ('relative', 'paper'):
            raise ValueError(f"MoCo: step_scale must be 'relative' or "
                             f"'paper', got {step_scale!r}")
        self.step_scale = step_scale
        if not 0 < beta <= 1 or gamma <= 0 or rho < 0:
            raise ValueError(f'MoCo: need 0 < beta <= 1, gamma > 0 and rho '
                             f'>= 0, got beta={beta}, gamma={gamma}, '
                             f'rho={rho}')
        self.beta, self.beta_sigma = beta, beta_sigma
        self.gamma, self.gamma_sigma = gamma, gamma_sigma
        self.normalize_grads = normalize_grads
        self._init_average()
        self._build(lambda: MoDoWeighting(gamma=gamma, rho=rho))

    def aggregate(self, losses: Tensor, jacobian: Tensor
                  ) -> Tuple[Tensor, Tensor]:
        y = self._average_for(jacobian)
        self._torchjd_state_on(jacobian.device)
        k = float(self.step)
        if self.normalize_grads:
            scale = losses.to(jacobian) / (jacobian.norm(dim=1) + 1e-8)
            jacobian = jacobian * scale.unsqueeze(1)
        y.lerp_(jacobian, self.beta / k**self.beta_sigma)
        self.weighting.gamma = self.gamma / k**self.gamma_sigma
        gramian = (y @ y.T).double()
        scale = gramian.diagonal().mean()
        if self.step_scale == 'relative' and scale > 0:
            gramian = gramian / scale
        lambd = self.weighting(gramian).to(y)
        return lambd, lambd @ y
