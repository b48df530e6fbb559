"""MoDo (Chen et al., 2024)."""
from typing import Optional

from torch import Tensor
from torchjd.aggregation import MoDoWeighting

from mmmtl.registry import BALANCERS
from .torchjd_adapter import MODO_STATE, TorchJDWeighting


@BALANCERS.register_module()
class MoDo(TorchJDWeighting):
    r"""Multi-objective gradient with Double sampling.

    Chen, Fernando, Ying & Chen, "Three-Way Trade-Off in Multi-Objective
    Learning: Optimization, Generalization and Conflict-Avoidance", JMLR
    2024 (NeurIPS 2023; arXiv:2305.20057), Eq. 2.9.

    MGDA's weights, followed by one projected gradient step per training
    step instead of solved for: with the weights :math:`\lambda` of the
    previous step (initially :math:`\frac1T\mathbf 1`; state, saved in
    checkpoints),

    .. math::
        \lambda \leftarrow \Pi_\Delta\big(\lambda - \gamma\,
            (G\lambda + \rho\lambda)\big),

    and the update is :math:`J^\top\lambda`. torchjd's ``MoDoWeighting``.
    The paper samples the Gramian from two independent mini-batches
    (:math:`J_1 J_2^\top`, "double sampling"); the optim wrapper has one
    batch per step, so here it is the batch's own Gramian.

    **Scale.** :math:`\gamma` multiplies :math:`G`, whose scale differs by
    orders of magnitude between the wrapper's Jacobian modes.
    ``step_scale='relative'`` (default) takes the step on :math:`G/s`
    (:math:`s` the mean squared gradient norm), so :math:`\gamma` means the
    same in both modes; ``'paper'`` on :math:`G` itself.

    Args:
        gamma (float): Step size :math:`\gamma`. Default 0.1.
        rho (float): :math:`\ell_2` regularisation :math:`\rho`.
            Default 0.1.
        step_scale (str): ``'relative'`` or ``'paper'``.
        num_tasks (int, optional): Number of tasks.
        update_scale (str, optional): ``'paper'`` (default), ``'sum'`` or
            ``'norm'``: see :class:`TorchJDWeighting`.
        recompute_every (int): Compute the weights every this many
            steps, reuse them in between (see :class:`GramianWeighting`).
            Default 1.
    """

    supports_task_subsets = False
    torchjd_state = MODO_STATE

    def __init__(self, gamma: float = 0.1, rho: float = 0.1,
                 step_scale: str = 'relative',
                 num_tasks: Optional[int] = None,
                 update_scale: Optional[str] = None,
                 recompute_every: int = 1) -> None:
        super().__init__(num_tasks=num_tasks, update_scale=update_scale,
                         recompute_every=recompute_every)
        if step_scale not in ('relative', 'paper'):
            raise ValueError(f"MoDo: step_scale must be 'relative' or "
                             f"'paper', got {step_scale!r}")
        self.step_scale = step_scale
        self._build(lambda: MoDoWeighting(gamma=gamma, rho=rho))

    def _paper_weights(self, gramian: Tensor) -> Tensor:
        if self.step_scale == 'paper':
            return self._solve(gramian)
        return super()._paper_weights(gramian)
