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

A balancer is called like a module (modelled on torchjd's
``Aggregator.__call__``): ``balancer(losses, tasks=None)``,
``balancer(losses, gramian)`` or ``balancer(losses, jacobian)``. The call
checks the inputs (naming the method and both sizes on a mismatch),
detaches them, casts them (Gramians to float64 for the solvers), runs the
method's hook (:meth:`LossWeighting.weigh`, :meth:`GramianWeighting.weigh`,
:meth:`JacobianAggregator.aggregate`), checks the result's shape and casts
it back to the losses' (or the Jacobian's) dtype and device. Hooks do none
of this themselves.

State a method keeps between steps (log-variances, loss histories, EMA
targets, logits, its random generator) lives in parameters, buffers or
``get_extra_state`` so that it is saved in checkpoints and restored on
resume.

The losses handed to a balancer are detached, already averaged over all
ranks under distributed training, so every rank computes the same weights.
"""
import contextlib
import logging
from abc import ABCMeta, abstractmethod
from typing import (ClassVar, Iterator, List, Optional, Sequence, Tuple,
                    Union)

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

from .checks import (check_loss_vector, check_matrix, check_output,
                     check_positive_losses, check_task_positions)


class Balancer(nn.Module, metaclass=ABCMeta):
    """Base of all task balancers.

    Args:
        num_tasks (int, optional): Number of tasks ``T``. Methods that keep
            per-task state need it; the optim wrapper passes it when it knows
            the tasks.
        seed (int, optional): Only for methods that draw random numbers
            (:attr:`uses_rng`): the seed of the balancer's own generator
            (see :meth:`random_draws`). ``None``: torch's initial seed when
            the balancer is built, which is mmengine's
            ``randomness=dict(seed=...)`` (the Runner seeds torch before it
            builds the optim wrapper; the same on every rank).
    """

    #: What the method reads besides the losses: ``'losses'``, ``'gramian'``
    #: or ``'jacobian'``.
    requires: ClassVar[str] = 'losses'
    #: Whether the weights also scale each task head's own gradient.
    weights_heads: ClassVar[bool] = True
    #: Whether the method can weigh a subset of the tasks (a step where
    #: some task has no labelled sample): because its rule treats whatever
    #: tasks it is given alike, or because its per-task weights can be
    #: picked by task position (the ``tasks`` argument). Methods whose
    #: state couples the tasks (loss histories, EMA targets, a joint
    #: solve) cannot: on such a step the optim wrapper sums the present
    #: tasks' losses, leaves their state untouched, and warns once.
    supports_task_subsets: ClassVar[bool] = True
    #: The Jacobian mode the method is meant for (``'feature'`` or
    #: ``'parameter'``), which the optim wrapper then uses whatever its own
    #: ``jacobian_mode``; ``None``: the wrapper's.
    jacobian_mode: ClassVar[Optional[str]] = None
    #: Whether the method draws random numbers (then it has a generator,
    #: see :meth:`random_draws`).
    uses_rng: ClassVar[bool] = False
    #: Whether the method needs finite, non-negative losses (it takes their
    #: logarithms or ratios); see also :meth:`loss_floor`.
    positive_losses: ClassVar[bool] = False

    def __init__(self, num_tasks: Optional[int] = None,
                 seed: Optional[int] = None) -> None:
        super().__init__()
        self.num_tasks = num_tasks
        if self.uses_rng:
            self.seed = torch.initial_seed() if seed is None else int(seed)
            gen = torch.Generator().manual_seed(self.seed)
            # the generator's state: saved in checkpoints, so that a resumed
            # run draws what the uninterrupted one would have
            self.register_buffer('rng_state', gen.get_state())

    @contextlib.contextmanager
    def random_draws(self, device: Optional[torch.device] = None,
                     global_stream: bool = False
                     ) -> Iterator[torch.Generator]:
        """One step's random draws, all from the balancer's own generator.

        Yields that generator (a CPU ``torch.Generator``, for
        ``torch.rand(..., generator=g)``); its state after the block is kept
        in the ``rng_state`` buffer. ``global_stream=True``, for code that
        draws from torch's default generators (torchjd's PCGrad, GradVac,
        GradDrop): within the block they (CPU, and ``device``'s if it is a
        CUDA device) are seeded with a number drawn from the generator, and
        restored on exit, so the global stream is left as it was. Every rank
        draws alike (same seed, same calls) and a resumed run continues the
        same sequence.
        """
        if not self.uses_rng:
            raise RuntimeError(f'{type(self).__name__} draws random numbers '
                               f'but does not set `uses_rng = True`')
        gen = torch.Generator()
        gen.set_state(self.rng_state.cpu())
        if global_stream:
            seed = int(torch.randint(2**62, (), generator=gen))
            with seeded_global_stream(seed, device):
                yield gen
        else:
            yield gen
        self.rng_state.copy_(gen.get_state())

    def _load_from_state_dict(self, state_dict, prefix, *args) -> None:
        # A state saved before the balancer had its own generator (mmmtl
        # before the seeded ``rng_state``) still loads: the draws go on
        # from the seed, and the log says the resume is not exact.
        key = prefix + 'rng_state'
        if self.uses_rng and key not in state_dict:
            print_log(
                f'{type(self).__name__}: the checkpoint has no `{key}` (it '
                f'was saved by an mmmtl before balancers kept their own '
                f'random generator); its random draws restart from seed '
                f'{self.seed}, so the resumed run does not repeat the '
                'uninterrupted one exactly.', logger='current',
                level=logging.WARNING)
            state_dict[key] = self.rng_state.clone()
        super()._load_from_state_dict(state_dict, prefix, *args)

    def loss_floor(self) -> Optional[Tensor]:
        """With :attr:`positive_losses`: what the losses must not fall
        below (``None``: 0)."""
        return None

    def _check_losses(self, losses: Tensor,
                      tasks: Optional[Sequence[int]] = None
                      ) -> Optional[List[int]]:
        """Check the losses (and task positions); return the positions, or
        ``None`` when all tasks are present."""
        check_loss_vector(self, losses, self.num_tasks,
                          self.supports_task_subsets)
        if self.positive_losses:
            check_positive_losses(self, losses.detach(), self.loss_floor())
        if tasks is None:
            return None
        tasks = [int(t) for t in tasks]
        check_task_positions(self, tasks, losses.numel(), self.num_tasks)
        if tasks == list(range(self.num_tasks or len(tasks))):
            return None
        return tasks


class LossWeighting(Balancer):
    """Weights computed from the task losses alone.

    ``balancer(losses, tasks=None)`` returns the ``T`` weights; ``tasks``:
    on a step where only some tasks have labelled samples, their positions
    in the model's task order (``losses`` holds their losses, in that
    order). Subclasses implement :meth:`weigh`. The combined objective is
    ``sum_t w_t L_t + regularizer(tasks)``; weights may carry gradient
    (learnable weights such as uncertainty weighting), in which case their
    parameters are trained with the model's optimizer.
    """

    requires = 'losses'
    weights_heads = True

    def forward(self, losses: Tensor,
                tasks: Optional[Sequence[int]] = None) -> Tensor:
        tasks = self._check_losses(losses, tasks)
        weights = self.weigh(losses.detach(), tasks)
        check_output(self, 'weights', weights, losses.numel())
        return weights.to(device=losses.device, dtype=losses.dtype)

    @abstractmethod
    def weigh(self, losses: Tensor,
              tasks: Optional[List[int]] = None) -> Tensor:
        """The hook: weights for the detached, checked ``losses``; ``tasks``
        the present tasks' positions (``None``: all tasks). Methods whose
        rule treats whatever tasks it is given alike ignore ``tasks``."""

    def regularizer(self, tasks: Optional[Sequence[int]] = None
                    ) -> Optional[Tensor]:
        """Extra term added to the combined loss (``None`` if there is
        none); ``tasks``: the present tasks' positions (``None``: all)."""
        return None


class GramianWeighting(Balancer):
    """Weights computed from the Gramian of the task gradients.

    ``balancer(losses, gramian)`` returns the ``T`` weights, in the losses'
    dtype; the shared update is ``J^T w``. Subclasses implement
    :meth:`weigh`, which is given float64 losses and Gramian.

    Args:
        num_tasks (int, optional): Number of tasks ``T``.
        seed (int, optional): See :class:`Balancer`.
        recompute_every (int): The cheaper mode of every Gramian method, as
            periodic MGDA variants do: compute the weights on every
            ``recompute_every``-th step only and reuse them on the steps in
            between (the method's own state is left as it is on those
            steps). On a reuse step the Gramian is not read:
            :meth:`recomputes_now` says whether the caller needs to compute
            it, and ``balancer(losses)`` returns the reused weights. Weights
            are recomputed whenever the number of tasks changes. Default 1
            (every step). The reused weights and their age are buffers
            (saved in checkpoints).
    """

    requires = 'gramian'
    weights_heads = False

    def __init__(self, num_tasks: Optional[int] = None,
                 seed: Optional[int] = None,
                 recompute_every: int = 1) -> None:
        super().__init__(num_tasks=num_tasks, seed=seed)
        if int(recompute_every) != recompute_every or recompute_every < 1:
            raise ValueError(f'{type(self).__name__}: recompute_every must '
                             f'be a positive integer, got {recompute_every}')
        self.recompute_every = int(recompute_every)
        if self.recompute_every > 1:
            # steps the reused weights have served (1 on the step that
            # computed them)
            self.register_buffer('weights_age',
                                 torch.zeros((), dtype=torch.long))
            self.register_buffer('reused_weights', None)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # a fresh balancer has no weights to reuse yet: make room
        saved = state_dict.get(prefix + 'reused_weights')
        if saved is not None and self.recompute_every > 1:
            self.reused_weights = torch.empty_like(saved)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def recomputes_now(self, num_losses: int) -> bool:
        """Whether this step (of ``num_losses`` tasks) computes the weights,
        i.e. whether the caller must pass the Gramian."""
        if self.recompute_every == 1:
            return True
        reused = self.reused_weights
        return (reused is None or reused.numel() != num_losses
                or int(self.weights_age) >= self.recompute_every)

    def forward(self, losses: Tensor,
                gramian: Optional[Tensor] = None) -> Tensor:
        self._check_losses(losses)
        t = losses.numel()
        if self.recomputes_now(t):
            weights = self._computed_weights(losses, gramian)
        else:
            self.weights_age += 1
            weights = self.reused_weights
        return weights.to(device=losses.device, dtype=losses.dtype)

    def _computed_weights(self, losses: Tensor,
                          gramian: Optional[Tensor]) -> Tensor:
        t = losses.numel()
        if gramian is None:
            raise ValueError(f'{type(self).__name__} computes its weights on '
                             f'this step and needs the Gramian (see '
                             f'recomputes_now)')
        check_matrix(self, 'Gramian', gramian, t, t)
        weights = self.weigh(losses.detach().double(),
                             gramian.detach().double())
        check_output(self, 'weights', weights, t)
        if self.recompute_every > 1:
            self.reused_weights = weights.detach().clone()
            self.weights_age.fill_(1)
        return weights

    @abstractmethod
    def weigh(self, losses: Tensor, gramian: Tensor) -> Tensor:
        """The hook: ``T`` weights from float64 losses (``T``) and Gramian
        (``T x T``)."""


class JacobianAggregator(Balancer):
    """Update computed from the full Jacobian of the task gradients.

    ``balancer(losses, jacobian)`` returns the ``P``-vector update, in the
    Jacobian's dtype. Subclasses implement :meth:`aggregate`, which returns
    the update, or ``(weights, update)`` where the update is a weighted sum
    of task gradients as the method sees them (MoCo's tracked gradients,
    DB-MTL's averaged log-loss gradients, ExcessMTL's raw ones): those
    ``T`` weights are what :meth:`weights_and_update` hands the optim
    wrapper to log and monitor, so that a task the method leaves out shows
    in the log as it does for a Gramian method.
    """

    requires = 'jacobian'
    weights_heads = False

    def forward(self, losses: Tensor, jacobian: Tensor) -> Tensor:
        return self.weights_and_update(losses, jacobian)[1]

    def weights_and_update(self, losses: Tensor, jacobian: Tensor
                           ) -> Tuple[Optional[Tensor], Tensor]:
        """The method's task weights (``None`` for a method without any,
        such as GradDrop) and the update, both checked."""
        self._check_losses(losses)
        t = losses.numel()
        check_matrix(self, 'Jacobian', jacobian, t, None)
        out = self.aggregate(losses.detach(), jacobian.detach())
        weights, update = out if isinstance(out, tuple) else (None, out)
        check_output(self, 'an update', update, jacobian.shape[1])
        if weights is not None:
            check_output(self, 'weights', weights, t)
            weights = weights.detach().to(losses.dtype)
        return weights, update.to(jacobian.dtype)

    @abstractmethod
    def aggregate(self, losses: Tensor, jacobian: Tensor
                  ) -> Union[Tensor, Tuple[Tensor, Tensor]]:
        """The hook: the ``P``-vector update from the detached losses
        (``T``) and Jacobian (``T x P``), or ``(weights, update)``."""


@contextlib.contextmanager
def seeded_global_stream(seed: int, device: Optional[torch.device] = None
                         ) -> Iterator[None]:
    """Within the block, torch's default generators (CPU, and ``device``'s
    if it is a CUDA device) are seeded with ``seed``; their states are
    restored on exit."""
    cuda = device is not None and torch.device(device).type == 'cuda'
    index = None
    if cuda:
        index = torch.device(device).index
        index = torch.cuda.current_device() if index is None else index
    with torch.random.fork_rng(devices=[index] if cuda else []):
        torch.default_generator.manual_seed(seed)
        if cuda:
            torch.cuda.default_generators[index].manual_seed(seed)
        yield


def gramian_factor(gramian: Tensor) -> Tensor:
    """A ``T x T`` matrix ``M`` with ``M M^T = gramian``.

    Methods whose result depends on the task gradients only through their
    inner products give the same weights on ``M`` as on the real Jacobian;
    this lets matrix-only implementations run on the Gramian alone.
    """
    eigvals, eigvecs = torch.linalg.eigh(gramian)
    return eigvecs * eigvals.clamp(min=0).sqrt().unsqueeze(0)
