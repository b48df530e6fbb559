"""The three kinds of task balancer, and what the optim wrapper asks of each.

Every method turns the ``T`` per-task losses of one step into one update of
the shared parameters (backbone, neck). Methods differ in what they read:

* :class:`LossWeighting` reads the task losses only and returns weights
  ``w``; the update is the gradient of ``sum_t w_t L_t (+ regularizer)``,
  i.e. one ordinary backward. The weights scale the task heads too.
* :class:`GramianWeighting` reads the ``T x T`` Gramian ``G = J J^T`` of the
  task gradients ``J = [g_1; ...; g_T]`` (with respect to the shared
  parameters, or to the shared features: see the optim wrapper) and returns
  weights ``w``; the shared update is ``J^T w``. Each head gets the gradient
  of its own loss, unweighted, as in the papers. Almost every gradient method
  (PCGrad, MGDA, CAGrad, IMTL-G, Nash-MTL, Aligned-MTL, UPGrad, DualProj,
  ConFIG, FairGrad, GradVac) is of this kind, which is what lets the wrapper
  get away with one backward through the backbone.
* :class:`JacobianAggregator` reads the full ``T x P`` Jacobian and returns
  the ``P``-vector update (GradDrop, DB-MTL).

State a method keeps between steps (log-variances, loss histories, EMA
targets, logits) lives in parameters, buffers or ``get_extra_state`` so that
it is saved in checkpoints and restored on resume.

The losses handed to a balancer are detached, already averaged over all
ranks under distributed training, so every rank computes the same weights.
"""
from abc import ABCMeta, abstractmethod
from typing import ClassVar, Optional, Sequence

import torch
from torch import Tensor, nn


class Balancer(nn.Module, metaclass=ABCMeta):
    """Base of all task balancers.

    Args:
        num_tasks (int, optional): Number of tasks ``T``. Methods that keep
            per-task state need it; the optim wrapper passes it when it knows
            the tasks.
    """

    #: What the method reads besides the losses: ``'losses'``, ``'gramian'``
    #: or ``'jacobian'``.
    requires: ClassVar[str] = 'losses'
    #: Whether the weights also scale each task head's own gradient.
    weights_heads: ClassVar[bool] = True
    #: Whether the method can weigh a subset of the tasks (a step where
    #: some task has no labelled sample): because its rule treats whatever
    #: tasks it is given alike, or because its per-task weights can be
    #: picked by task position (``LossWeighting.weigh_tasks``). Methods whose
    #: state couples the tasks (loss histories, EMA targets, a joint
    #: solve) cannot: on such a step the optim wrapper sums the present
    #: tasks' losses, leaves their state untouched, and warns once.
    supports_task_subsets: ClassVar[bool] = True

    def __init__(self, num_tasks: Optional[int] = None) -> None:
        super().__init__()
        self.num_tasks = num_tasks

    def _check_losses(self, losses: Tensor) -> None:
        if losses.dim() != 1:
            raise ValueError(f'{type(self).__name__} expects a 1-D tensor of '
                             f'task losses, got shape {tuple(losses.shape)}')
        expected = self.num_tasks
        if expected is not None and (
                losses.numel() > expected or
                (losses.numel() < expected and
                 not self.supports_task_subsets)):
            raise ValueError(f'{type(self).__name__} was built for '
                             f'{self.num_tasks} tasks but got '
                             f'{losses.numel()} losses')


class LossWeighting(Balancer):
    """Weights computed from the task losses alone.

    Subclasses implement :meth:`weigh`. The combined objective is
    ``sum_t w_t L_t + regularizer()``; weights may carry gradient (learnable
    weights such as uncertainty weighting), in which case their parameters
    are trained with the model's optimizer.
    """

    requires = 'losses'
    weights_heads = True

    @abstractmethod
    def weigh(self, losses: Tensor) -> Tensor:
        """Return the ``T`` task weights for detached losses ``losses`` (``T``)."""

    def weigh_tasks(self, losses: Tensor, tasks: Sequence[int]) -> Tensor:
        """Weights on a step where only the tasks at positions ``tasks`` (in
        the model's task order) have labelled samples; ``losses`` holds
        their losses, in that order.

        Called only when :attr:`supports_task_subsets`. The default,
        :meth:`weigh`, suits methods whose rule treats whatever tasks it is
        given alike (equal weights, RLW, GLS); methods with one weight per
        task position override it.
        """
        return self.weigh(losses)

    def regularizer(self, tasks: Optional[Sequence[int]] = None
                    ) -> Optional[Tensor]:
        """Extra term added to the combined loss (``None`` if there is
        none); ``tasks``: the present tasks' positions, as in
        :meth:`weigh_tasks` (``None``: all tasks)."""
        return None


class GramianWeighting(Balancer):
    """Weights computed from the Gramian of the task gradients.

    Subclasses implement :meth:`weigh`; the shared update is ``J^T w``.
    """

    requires = 'gramian'
    weights_heads = False

    @abstractmethod
    def weigh(self, losses: Tensor, gramian: Tensor) -> Tensor:
        """Return ``T`` weights from the losses (``T``) and Gramian (``T x T``)."""


class JacobianAggregator(Balancer):
    """Update computed from the full Jacobian of the task gradients."""

    requires = 'jacobian'
    weights_heads = False

    @abstractmethod
    def aggregate(self, losses: Tensor, jacobian: Tensor) -> Tensor:
        """Return the ``P``-vector update from losses (``T``) and Jacobian (``T x P``)."""


def gramian_factor(gramian: Tensor) -> Tensor:
    """A ``T x T`` matrix ``M`` with ``M M^T = gramian``.

    Methods whose result depends on the task gradients only through their
    inner products give the same weights on ``M`` as on the real Jacobian;
    this lets matrix-only implementations run on the Gramian alone.
    """
    eigvals, eigvecs = torch.linalg.eigh(gramian)
    return eigvecs * eigvals.clamp(min=0).sqrt().unsqueeze(0)
