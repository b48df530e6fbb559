"""How one step's per-task losses become gradients, one object per kind of
balancer (see :mod:`mmmtl.balancers.base`), chosen when the optim wrapper is
built:

* :class:`LossWeightingUpdate`: one ordinary backward of
  ``sum_t w_t L_t (+ regularizer)``;
* :class:`GramianWeightingUpdate`: per-task gradients ``J`` (w.r.t. the
  shared features or parameters, see :mod:`.jacobian_modes`), weights from
  their Gramian ``J J^T``, shared update ``J^T w``;
* :class:`JacobianAggregationUpdate`: per-task gradients, update from the
  whole ``J``;
* :class:`SummedLossUpdate`: the plain sum of the present tasks' losses,
  for a step on which some task has no labelled sample and the method's
  state couples the tasks.

Each is called with a :class:`TaskStep` and returns the task weights and
what it logs besides them.
"""
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

from .rank_sync import all_ranks
from .step_guard import NonFiniteStep

if TYPE_CHECKING:
    from mmmtl.models.shared_features import SharedFeatures

Logs = Dict[str, Tensor]


@dataclass
class TaskStep:
    """One step's tasks, as every rank sees them.

    Attributes:
        names: The tasks with a loss this step, in the model's order.
        losses: Each one's scalar loss (float32, in the autograd graph).
        global_losses: The losses, detached and averaged over the ranks.
        positions: The tasks' positions among all the model's tasks, on a
            step where some task is absent (None: all are present).
        features: The model's :class:`~mmmtl.models.SharedFeatures`.
        multiplier: Loss scale (AMP) times the accumulation factor.
    """

    names: List[str]
    losses: List[Tensor]
    global_losses: Tensor
    positions: Optional[List[int]]
    features: 'SharedFeatures'
    multiplier: float


def backward_from_head_inputs(features: 'SharedFeatures') -> None:
    """Backpropagate the gradient that reached the heads' inputs through the
    shared part (one backward)."""
    pairs = [(f, h.grad) for f, h in features.trainable
             if h.grad is not None]
    if pairs:
        torch.autograd.backward([f for f, _ in pairs], [g for _, g in pairs])


class LossWeightingUpdate:
    """One backward of the weighted sum; the weights scale the heads too."""

    def __init__(self, balancer) -> None:
        self.balancer = balancer

    def __call__(self, step: TaskStep) -> Tuple[Tensor, Logs]:
        weights = self.balancer(step.global_losses, tasks=step.positions)
        losses = torch.stack(step.losses)
        weights = weights.to(losses.device)
        total = (weights * losses).sum()
        reg = self.balancer.regularizer(step.positions)
        if reg is not None:
            total = total + reg
        (total * step.multiplier).backward()
        backward_from_head_inputs(step.features)
        return weights, {}


class SummedLossUpdate:
    """The present tasks' losses summed, the balancer's state left alone
    (said once)."""

    def __init__(self, method: str) -> None:
        self.method = method
        self._warned = False

    def __call__(self, step: TaskStep) -> Tuple[Tensor, Logs]:
        if not self._warned:
            self._warned = True
            print_log(
                f'{self.method} cannot weigh a step on which only the tasks '
                f'{step.names} have labelled samples (its state couples the '
                "tasks): such steps use the plain sum of the present tasks' "
                'losses and leave its state unchanged. This is said once.',
                logger='current', level=logging.WARNING)
        losses = torch.stack(step.losses)
        (losses.sum() * step.multiplier).backward()
        backward_from_head_inputs(step.features)
        return torch.ones_like(losses), {}


class GradientUpdate:
    """Per-task gradients, one combination; subclasses say how to combine.

    Each task's backward starts from its own loss, so it runs through its
    own head only; its shared gradient goes straight into a row of one
    float32 Jacobian, its head gets the gradient of its own loss (weighted
    when the balancer ``weights_heads``).
    """

    def __init__(self, balancer, mode, shared_params: Sequence[nn.Parameter],
                 task_params: Dict[str, Sequence[nn.Parameter]],
                 log_cosine: bool) -> None:
        self.balancer, self.mode = balancer, mode
        self.shared_params = list(shared_params)
        self.task_params = {k: list(v) for k, v in task_params.items()}
        self.log_cosine = log_cosine

    def combine(self, step: TaskStep, jacobian: Tensor, gramian: Tensor
                ) -> Tuple[Tensor, Tensor]:
        """Weights and the shared update from this rank's ``jacobian`` and
        the global ``gramian``."""
        raise NotImplementedError

    def __call__(self, step: TaskStep) -> Tuple[Tensor, Logs]:
        inputs = self.mode.inputs(step.features, self.shared_params)
        if not inputs:
            # the shared part is frozen (e.g. staged training): nothing to
            # balance; each head gets its own loss's gradient
            (sum(step.losses) * step.multiplier).backward()
            return torch.ones(len(step.names), device=step.losses[0].device), {}
        jacobian, head_grads = self._jacobian(step, inputs)
        gramian = checked_gramian(jacobian, step.names)
        jacobian, gramian = self.mode.global_gramian(jacobian, gramian)
        weights, update = self.combine(step, jacobian, gramian)
        weights = weights.to(jacobian.device)
        self._give_heads(weights, head_grads)
        if step.multiplier != 1.0:
            update = update * step.multiplier
        numels = [t.numel() for t in inputs]
        pieces = [piece.view_as(t).to(t.dtype)
                  for piece, t in zip(update.split(numels), inputs)]
        self.mode.apply(pieces, inputs, step.features)
        logs = cosine_logs(step.names, gramian) if self.log_cosine else {}
        return weights, logs

    def _jacobian(self, step: TaskStep, inputs: List[Tensor]
                  ) -> Tuple[Tensor, list]:
        """The ``T x P`` Jacobian (unscaled) and each head's gradients."""
        numels = [t.numel() for t in inputs]
        jacobian = torch.empty(len(step.names), sum(numels),
                               dtype=torch.float32, device=inputs[0].device)
        head_grads = []
        for i, name in enumerate(step.names):
            own = [p for p in self.task_params.get(name, ())
                   if p.requires_grad]
            shared_grads, own_grads = self.mode.task_gradients(
                step.losses[i] * step.multiplier, inputs, own,
                step.features, last=i == len(step.names) - 1)
            for row, g in zip(jacobian[i].split(numels), shared_grads):
                if g is None:
                    row.zero_()
                else:
                    row.copy_(g.reshape(-1))
            if step.multiplier != 1.0:
                jacobian[i].div_(step.multiplier)
            head_grads.append(list(zip(own, own_grads)))
            # the shared gradients now live in the Jacobian only
            del shared_grads
        return jacobian, head_grads

    def _give_heads(self, weights: Tensor, head_grads: list) -> None:
        for w, own_grads in zip(weights, head_grads):
            scale = float(w) if self.balancer.weights_heads else 1.0
            for p, g in own_grads:
                if g is None:
                    continue
                if scale != 1.0:
                    g = g * scale
                p.grad = g if p.grad is None else p.grad + g


class GramianWeightingUpdate(GradientUpdate):
    """Weights from the Gramian; the update is ``J^T w`` (feature mode: the
    local one, averaged over ranks with the parameter gradients; parameter
    mode: the global one).

    On a step where the balancer reuses its weights (``recompute_every``,
    :meth:`~mmmtl.balancers.GramianWeighting.recomputes_now`) no Jacobian
    or Gramian is built: each task's backward stops at the heads' inputs,
    their gradients are summed with the weights, and one backward of that
    sum from the shared features gives ``J^T w`` (parameter mode included:
    the chain rule is linear). The per-task backward passes through the
    shared part, the larger cost in parameter mode, are saved; so are the
    cosine logs of those steps.
    """

    def __call__(self, step: TaskStep) -> Tuple[Tensor, Logs]:
        inputs = self.mode.inputs(step.features, self.shared_params)
        if not inputs or self.balancer.recomputes_now(len(step.names)):
            return super().__call__(step)
        weights = self.balancer(step.global_losses).to(inputs[0].device)
        combined, head_grads = self._weighted_feature_gradients(step, weights)
        self._give_heads(weights, head_grads)
        self.mode.backward_combined(combined, inputs, step.features)
        return weights, {}

    def _weighted_feature_gradients(self, step: TaskStep, weights: Tensor
                                    ) -> Tuple[List[Tensor], list]:
        """``sum_t w_t dL_t/dh`` for each head input ``h`` (float32, loss
        multiplier included), and each head's own gradients: one backward
        per task, through its head only."""
        leaves = [h for _, h in step.features.trainable]
        combined = [torch.zeros(h.shape, dtype=torch.float32,
                                device=h.device) for h in leaves]
        head_grads = []
        for w, name, loss in zip(weights.tolist(), step.names, step.losses):
            own = [p for p in self.task_params.get(name, ())
                   if p.requires_grad]
            grads = torch.autograd.grad(loss * step.multiplier, leaves + own,
                                        allow_unused=True)
            for total, g in zip(combined, grads[:len(leaves)]):
                if g is not None:
                    total.add_(g.float(), alpha=w)
            head_grads.append(list(zip(own, grads[len(leaves):])))
        return combined, head_grads

    def combine(self, step, jacobian, gramian):
        weights = self.balancer(step.global_losses, gramian)
        weights = weights.to(jacobian.dtype)
        return weights, weights @ jacobian


class JacobianAggregationUpdate(GradientUpdate):
    """The update from the whole Jacobian (feature mode: this rank's
    feature gradients, which belong to its own samples). The logged and
    monitored weights are the method's own (MoCo's, ExcessMTL's, DB-MTL's),
    or ones for a method without task weights (GradDrop)."""

    def combine(self, step, jacobian, gramian):
        weights, update = self.balancer.weights_and_update(
            step.global_losses, jacobian)
        if weights is None:
            weights = torch.ones(len(step.names), device=jacobian.device)
        return weights, update


def checked_gramian(jacobian: Tensor, names: List[str]) -> Tensor:
    """``J J^T`` of this rank's task gradients.

    Raises :class:`NonFiniteStep` (on every rank alike, so the collectives
    that follow stay in step) if any rank's task gradients hold inf/NaN.
    An inf/NaN anywhere in ``J`` shows on the diagonal (a sum of squares);
    ``J`` itself is only scanned when that diagonal is not finite.
    """
    gramian = jacobian @ jacobian.T
    finite = bool(torch.isfinite(gramian).all())
    if not finite and bool(torch.isfinite(jacobian).all()):
        # finite gradients whose squares overflow float32
        gramian = jacobian.double() @ jacobian.double().T
        finite = True
    if not all_ranks(finite, jacobian.device):
        bad = [n for n, row in zip(names, jacobian)
               if not bool(torch.isfinite(row).all())]
        raise NonFiniteStep('gradient', bad)
    return gramian


def cosine_logs(names: List[str], gramian: Tensor) -> Logs:
    """Each task's gradient norm and the pairwise cosines."""
    norms = gramian.diagonal().clamp(min=1e-30).sqrt()
    cos = gramian / (norms[:, None] * norms[None, :])
    logs = {}
    for a in range(len(names)):
        logs[f'grad_norm.{names[a]}'] = norms[a].detach()
        for b in range(a + 1, len(names)):
            logs[f'cos.{names[a]}-{names[b]}'] = cos[a, b].detach()
    return logs


def build_task_update(balancer, mode, shared_params, task_params,
                      log_cosine: bool):
    """The update object for ``balancer``'s kind."""
    if balancer.requires == 'losses':
        return LossWeightingUpdate(balancer)
    cls = dict(gramian=GramianWeightingUpdate,
               jacobian=JacobianAggregationUpdate)[balancer.requires]
    return cls(balancer, mode, shared_params, task_params, log_cosine)
