"""With respect to what gradient methods take the task gradients.

* :class:`FeatureJacobian` (``jacobian_mode='feature'``): the gradients of
  each task's loss w.r.t. the shared features (what the heads read). One
  backward through each head, then a single backward of the combined
  update ``J^T w`` through the shared part: about the cost of one ordinary
  backward. The Gramian is that of the feature gradients, a surrogate of
  the parameter one (MGDA-UB, Sener & Koltun, 2018).
* :class:`ParameterJacobian` (``'parameter'``): the gradients w.r.t. the
  shared parameters themselves, exact, one backward through the shared part
  per task.

Both give each head the gradient of its own loss and hand back the shared
part's update the same way; the optim wrapper picks one when it is built.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.distributed as torch_dist
from torch import Tensor, nn

from .rank_sync import world_size

Grads = Sequence[Optional[Tensor]]


class FeatureJacobian:
    """Task gradients w.r.t. the shared features."""

    name = 'feature'

    def inputs(self, features, shared_params: Sequence[nn.Parameter]
               ) -> List[Tensor]:
        """What the Jacobian's columns are: the heads' inputs."""
        return [h for _, h in features.trainable]

    def task_gradients(self, loss: Tensor, inputs: List[Tensor],
                       own: List[nn.Parameter], features, last: bool
                       ) -> Tuple[Grads, Grads]:
        """One backward through the task's head: the gradients w.r.t. the
        heads' inputs and w.r.t. the task's own parameters."""
        grads = torch.autograd.grad(loss, inputs + own, allow_unused=True)
        return grads[:len(inputs)], grads[len(inputs):]

    def global_gramian(self, jacobian: Tensor, gramian: Tensor
                       ) -> Tuple[Tensor, Tensor]:
        """Features are per sample: the Gramian of the global batch's mean
        loss is the sum of the ranks' ones / world^2. The balancer then
        reads this rank's own feature gradients."""
        world = world_size()
        if world > 1:
            torch_dist.all_reduce(gramian)
            gramian.div_(world * world)
        return jacobian, gramian

    def apply(self, pieces: List[Tensor], inputs: List[Tensor],
              features) -> None:
        """Backpropagate the update from the features (not their leaf
        views) through the shared part."""
        torch.autograd.backward([f for f, _ in features.trainable], pieces)

    def backward_combined(self, combined: List[Tensor], inputs: List[Tensor],
                          features) -> None:
        """The update ``J^T w`` from its value at the heads' inputs
        (``sum_t w_t`` of the tasks' feature gradients)."""
        self.apply([c.to(h.dtype) for c, h in zip(combined, inputs)],
                   inputs, features)


class ParameterJacobian:
    """Task gradients w.r.t. the shared parameters."""

    name = 'parameter'

    def inputs(self, features, shared_params: Sequence[nn.Parameter]
               ) -> List[Tensor]:
        """What the Jacobian's columns are: the trainable shared
        parameters."""
        return [p for p in shared_params if p.requires_grad]

    def task_gradients(self, loss: Tensor, inputs: List[Tensor],
                       own: List[nn.Parameter], features, last: bool
                       ) -> Tuple[Grads, Grads]:
        """The task's head (its graph freed as it goes), then its feature
        gradients through the shared part (kept for the next task unless
        this is the ``last``)."""
        pairs = features.trainable
        leaves = [h for _, h in pairs]
        grads = torch.autograd.grad(loss, leaves + own, allow_unused=True)
        fg = [(f, g) for (f, _), g in zip(pairs, grads[:len(leaves)])
              if g is not None]
        if not fg:
            return [None] * len(inputs), grads[len(leaves):]
        shared_grads = torch.autograd.grad(
            [f for f, _ in fg], inputs, [g for _, g in fg],
            retain_graph=not last, allow_unused=True)
        return shared_grads, grads[len(leaves):]

    def global_gramian(self, jacobian: Tensor, gramian: Tensor
                       ) -> Tuple[Tensor, Tensor]:
        """Parameter gradients are averaged over ranks: average the task
        gradients (the balancer sees the global ones), then their
        Gramian."""
        world = world_size()
        if world > 1:
            torch_dist.all_reduce(jacobian)
            jacobian.div_(world)
            gramian = jacobian @ jacobian.T
        return jacobian, gramian

    def apply(self, pieces: List[Tensor], inputs: List[Tensor],
              features) -> None:
        """Add the update to the shared parameters' gradients."""
        for p, g in zip(inputs, pieces):
            p.grad = g if p.grad is None else p.grad + g

    def backward_combined(self, combined: List[Tensor], inputs: List[Tensor],
                          features) -> None:
        """The update ``J^T w`` of the shared parameters from
        ``sum_t w_t dL_t/df`` at the shared features ``f``: one backward
        through the shared part instead of one per task (a parameter no
        task reaches gets a zero gradient, as from the Jacobian)."""
        shared = [f for f, _ in features.trainable]
        if not shared:
            grads = [None] * len(inputs)
        else:
            grads = torch.autograd.grad(
                shared, inputs,
                [c.to(f.dtype) for c, f in zip(combined, shared)],
                allow_unused=True)
        self.apply([torch.zeros_like(p) if g is None else g
                    for p, g in zip(inputs, grads)], inputs, features)


JACOBIAN_MODES = {m.name: m for m in (FeatureJacobian, ParameterJacobian)}
