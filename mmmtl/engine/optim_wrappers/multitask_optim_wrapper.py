"""An optim wrapper that balances the tasks of a multi-task model."""
import logging
from contextlib import contextmanager
from typing import (TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple,
                    Union)

import torch
import torch.distributed as torch_dist
from mmdet.registry import OPTIM_WRAPPERS
from mmengine.dist import get_world_size, is_distributed
from mmengine.logging import MessageHub, print_log
from mmengine.optim import OptimWrapper
from torch import Tensor, nn
from torch.optim import Optimizer

from mmmtl.balancers import Balancer
from mmmtl.registry import build_balancer
from .balancer_monitor import BalancerMonitor

if TYPE_CHECKING:
    from mmmtl.models.shared_features import SharedFeatures

JACOBIAN_MODES = ('feature', 'parameter')


@OPTIM_WRAPPERS.register_module()
class MultiTaskOptimWrapper(OptimWrapper):
    """Turns the per-task losses of an mmmtl model into one optimizer step.

    Built by :class:`MultiTaskOptimWrapperConstructor`, which tells it which
    parameters are shared (backbone, neck) and which belong to each task,
    and puts the balancer's own learnable parameters (if any) into the
    optimizer. The model's ``train_step`` calls :meth:`update_task_params`
    with each task's loss and the shared features.

    How the update is made depends on the balancer's kind (see
    :mod:`mmmtl.balancers.base`):

    * loss weighting: one ordinary backward of ``sum_t w_t L_t``;
    * Gramian weighting / Jacobian aggregation: per-task gradients ``J``,
      either w.r.t. the shared **features** (``jacobian_mode='feature'``,
      default: one backward through each head, the Gramian of the feature
      gradients, then a single backward of ``J^T w`` through the backbone,
      so the cost is about that of one ordinary backward) or w.r.t. the
      shared **parameters** (``'parameter'``: one backward through the whole
      network per task, exact). Each head gets the gradient of its own loss.

    The model cuts the graph between the shared features and the heads
    (:class:`~mmmtl.models.SharedFeatures`): every head is backpropagated
    once and freed as it goes, and the backbone separately.

    AMP is built in (``amp=True``): autocast in ``dtype`` (``'float16'`` or
    ``'bfloat16'``) on the model's device, CPU included; with float16 a
    dynamic loss scaler scales each task's loss, per-task gradients are
    unscaled before the balancer reads them, and a step whose gradients
    hold inf/NaN is skipped as in mmengine's ``AmpOptimWrapper``.

    Under distributed training (with :class:`MultiTaskDistributedDataParallel`
    as model wrapper) the wrapper averages gradients over ranks itself; the
    balancer reads losses and Gramians reduced over all ranks, so every rank
    computes the same weights.

    Args:
        optimizer (Optimizer): The optimizer.
        balancer (dict | Balancer): The task balancer, e.g.
            ``dict(type='PCGrad')``. Default: equal weighting.
        jacobian_mode (str): ``'feature'`` or ``'parameter'``; ignored by
            loss weightings. A balancer may force one (MGDA-UB: feature).
        amp (bool): Mixed precision. Default False.
        dtype (str): Autocast dtype under AMP: ``'float16'`` (default on
            CUDA) or ``'bfloat16'`` (default on CPU).
        loss_scale (str | float | dict): ``'dynamic'`` (default), a fixed
            scale, or kwargs of ``torch.amp.GradScaler``; float16 only.
        log_cosine (bool): Log the pairwise cosine similarity of task
            gradients and each task's gradient norm (gradient methods only).
            Default True.
        monitor (dict | bool): Arguments of the :class:`BalancerMonitor`
            that warns when a task's weight stays near 0 or ``clip_grad``
            clips most steps; ``False`` turns it off. Default: on.
        **kwargs: ``accumulative_counts`` and ``clip_grad`` as in
            mmengine's ``OptimWrapper``.
    """

    def __init__(self,
                 optimizer: Optimizer,
                 balancer: Union[dict, Balancer, None] = None,
                 jacobian_mode: str = 'feature',
                 amp: bool = False,
                 dtype: Optional[str] = None,
                 loss_scale: Union[str, float, dict] = 'dynamic',
                 log_cosine: bool = True,
                 monitor: Union[dict, bool, None] = None,
                 shared_params: Optional[Sequence[nn.Parameter]] = None,
                 task_params: Optional[Dict[str, Sequence[nn.Parameter]]] = None,
                 **kwargs) -> None:
        super().__init__(optimizer, **kwargs)
        if balancer is None:
            balancer = dict(type='EqualWeighting')
        if isinstance(balancer, dict):
            balancer = build_balancer(balancer)
        if not isinstance(balancer, Balancer):
            raise TypeError('optim_wrapper.balancer must be a balancer config '
                            f'or a Balancer, got {type(balancer).__name__}')
        self.balancer = balancer
        forced = getattr(balancer, 'jacobian_mode', None)
        jacobian_mode = forced or jacobian_mode
        if jacobian_mode not in JACOBIAN_MODES:
            raise ValueError(f'optim_wrapper.jacobian_mode must be one of '
                             f'{JACOBIAN_MODES}, got {jacobian_mode!r}')
        self.jacobian_mode = jacobian_mode
        self.log_cosine = log_cosine
        self.monitor = BalancerMonitor.build(type(balancer).__name__,
                                             monitor)
        self.shared_params = list(shared_params or [])
        self.task_params = {k: list(v) for k, v in (task_params or {}).items()}
        self.amp = bool(amp)
        self._dtype_name = dtype
        self._loss_scale = loss_scale
        self.loss_scaler: Optional[torch.amp.GradScaler] = None
        self._scaler_state: Optional[dict] = None
        self._skipped_steps = 0
        self._warned_subset_fallback = False

    # ------------------------------------------------------------------
    # set-up helpers
    # ------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        if self.shared_params:
            return self.shared_params[0].device
        return self.param_groups[0]['params'][0].device

    @property
    def cast_dtype(self) -> torch.dtype:
        name = self._dtype_name or (
            'float16' if self.device.type == 'cuda' else 'bfloat16')
        if name not in ('float16', 'bfloat16'):
            raise ValueError("optim_wrapper.dtype must be 'float16' or "
                             f"'bfloat16', got {name!r}")
        return getattr(torch, name)

    def _ensure_scaler(self) -> None:
        """Create the loss scaler lazily (the model's device is known then)."""
        if not self.amp or self.cast_dtype != torch.float16 \
                or self.loss_scaler is not None:
            return
        device = self.device.type
        ls = self._loss_scale
        if ls == 'dynamic':
            scaler = torch.amp.GradScaler(device)
        elif isinstance(ls, (int, float)):
            scaler = torch.amp.GradScaler(
                device, init_scale=float(ls), growth_factor=1.0,
                backoff_factor=1.0)
        elif isinstance(ls, dict):
            scaler = torch.amp.GradScaler(device, **ls)
        else:
            raise TypeError("optim_wrapper.loss_scale must be 'dynamic', a "
                            f'number or a dict, got {ls!r}')
        if self._scaler_state is not None:
            scaler.load_state_dict(self._scaler_state)
            self._scaler_state = None
        self.loss_scaler = scaler

    @contextmanager
    def optim_context(self, model: nn.Module):
        with super().optim_context(model):
            if self.amp:
                with torch.autocast(device_type=self.device.type,
                                    dtype=self.cast_dtype):
                    yield
            else:
                yield

    # ------------------------------------------------------------------
    # the update
    # ------------------------------------------------------------------
    def update_params(self, loss: Tensor, step_kwargs=None,
                      zero_kwargs=None) -> None:
        """Refuse a single summed loss rather than silently dropping the
        balancer: it means the step bypassed the model's ``train_step``."""
        raise RuntimeError(
            'MultiTaskOptimWrapper got one summed loss instead of per-task '
            'losses, so it cannot balance the tasks. Under distributed '
            "training set model_wrapper_cfg=dict(type="
            "'MultiTaskDistributedDataParallel') (mmmtl's default runtime "
            'does); otherwise train a model with per-task losses, such as '
            'MultiTaskDetector.')

    def update_task_params(self, task_losses: Dict[str, Tensor],
                           features: 'SharedFeatures',
                           task_names: Sequence[str]) -> Dict[str, Tensor]:
        """Backward of the balanced task losses, then step when due.

        Args:
            task_losses: Task name -> that task's total loss (scalar). Tasks
                with no labelled sample in this batch are absent.
            features: The shared features and the leaf views of them that
                the task-specific part read (:class:`SharedFeatures`). Each
                task's backward ends at the views and frees its part of the
                graph as it goes; the shared part is backpropagated from
                ``features.shared`` on its own, once (once per task in
                parameter mode).
            task_names: All the model's tasks (for the balancer's task
                positions and for logging).

        Returns:
            dict: Values to log (combined loss, task weights, cosines).
        """
        if not self.shared_params:
            raise RuntimeError(
                'MultiTaskOptimWrapper does not know the shared parameters: '
                "build it with optim_wrapper=dict(type='MultiTaskOptimWrapper',"
                " constructor='MultiTaskOptimWrapperConstructor', ...)")
        self._ensure_scaler()
        task_names = list(task_names)
        task_losses = self._agree_on_tasks(task_losses, task_names,
                                           features.head_inputs)
        names = [n for n in task_names if n in task_losses]
        logs: Dict[str, Tensor] = {}
        if names:
            # each task's own scalar is kept for its backward: a backward
            # from an element of the stacked vector would also run (with
            # zeros) through every other task's head
            loss_list = [task_losses[n].float() for n in names]
            losses = torch.stack(loss_list)
            global_losses = self._mean_over_ranks(losses.detach())
            subset = len(names) < len(task_names)
            if subset and not self.balancer.supports_task_subsets:
                # a task has no labelled sample this step and the method's
                # state couples the tasks: sum the present losses, leave the
                # state alone
                self._warn_subset_fallback(names)
                weights = torch.ones_like(losses)
                (losses.sum() * self._loss_multiplier()).backward()
                self._backward_from_head_inputs(features)
            elif self.balancer.requires == 'losses':
                tasks = [task_names.index(n) for n in names] if subset \
                    else None
                weights = self._backward_weighted(losses, global_losses,
                                                  tasks)
                self._backward_from_head_inputs(features)
            else:
                weights = self._backward_balanced(names, loss_list, features,
                                                  global_losses, logs)
            logs['loss'] = (weights.detach() * losses.detach()).sum()
            for name, w in zip(names, weights.detach()):
                logs[f'weight.{name}'] = w
            if self.monitor is not None:
                self.monitor.observe_weights(
                    {n: float(w) for n, w in zip(names, weights.detach())})
        else:
            logs['loss'] = torch.zeros((), device=self.device)
        self._inner_count += 1
        if self.should_update():
            self._sync_grads()
            self.step()
            self.zero_grad()
        self._log_to_message_hub(logs)
        return logs

    def _warn_subset_fallback(self, names: List[str]) -> None:
        if self._warned_subset_fallback:
            return
        self._warned_subset_fallback = True
        print_log(
            f'{type(self.balancer).__name__} cannot weigh a step on which '
            f'only the tasks {names} have labelled samples (its state '
            'couples the tasks): such steps use the plain sum of the present '
            "tasks' losses and leave its state unchanged. This is said once.",
            logger='current', level=logging.WARNING)

    def _accumulation_factor(self) -> float:
        """1 / (number of micro-steps in this accumulation window)."""
        if self._accumulative_counts == 1:
            return 1.0
        if self._inner_count < self._max_counts - self._remainder_counts:
            return 1.0 / self._accumulative_counts
        return 1.0 / self._remainder_counts

    def _loss_multiplier(self) -> float:
        scale = 1.0
        if self.loss_scaler is not None:
            # scaler.scale() (not get_scale) so that the scaler knows it was
            # used this iteration, as unscale_ requires
            scale = float(self.loss_scaler.scale(
                torch.ones((), device=self.device)))
        return scale * self._accumulation_factor()

    def _backward_weighted(self, losses: Tensor, global_losses: Tensor,
                           tasks: Optional[List[int]]) -> Tensor:
        """Loss weighting: one backward of sum_t w_t L_t (+ regularizer).

        ``tasks``: the positions of the tasks present, on a step where some
        task has no labelled sample (None: all are present)."""
        if tasks is None:
            weights = self.balancer.weigh(global_losses)
        else:
            weights = self.balancer.weigh_tasks(global_losses, tasks)
        weights = weights.to(losses.device)
        total = (weights * losses).sum()
        reg = self.balancer.regularizer(tasks)
        if reg is not None:
            total = total + reg
        (total * self._loss_multiplier()).backward()
        return weights

    @staticmethod
    def _backward_from_head_inputs(features: 'SharedFeatures') -> None:
        """Backpropagate the gradient that reached the heads' inputs through
        the shared part (one backward)."""
        pairs = [(f, h.grad) for f, h in features.trainable
                 if h.grad is not None]
        if pairs:
            torch.autograd.backward([f for f, _ in pairs],
                                    [g for _, g in pairs])

    def _backward_balanced(self, names: List[str], loss_list: List[Tensor],
                           features: 'SharedFeatures', global_losses: Tensor,
                           logs: dict) -> Tensor:
        """Gradient methods: per-task gradients, balancer, one combination.

        Each task's backward starts from that task's own loss tensor, so it
        runs through its own head only, down to ``features.head_inputs``.
        """
        feature_mode = self.jacobian_mode == 'feature'
        # the features whose heads' inputs need a gradient, and those inputs
        pairs = features.trainable
        req_features = [f for f, _ in pairs]
        req_leaves = [h for _, h in pairs]
        shared: List[Tensor] = req_leaves if feature_mode else [
            p for p in self.shared_params if p.requires_grad]
        mult = self._loss_multiplier()
        if not shared:
            # the shared part is frozen (e.g. staged training): nothing to
            # balance; each head gets its own loss's gradient, as gradient
            # methods give heads anyway
            (sum(loss_list) * mult).backward()
            return torch.ones(len(names), device=self.device)
        # the task gradients go straight into the rows of one float32 matrix
        numels = [s.numel() for s in shared]
        jacobian = torch.empty(len(names), sum(numels), dtype=torch.float32,
                               device=shared[0].device)
        head_grads = []
        for i, name in enumerate(names):
            own = [p for p in self.task_params.get(name, ())
                   if p.requires_grad]
            last = i == len(names) - 1
            if not feature_mode:
                # parameter mode: the head (freed as it goes),
                # then this task's feature gradients through the backbone
                grads = torch.autograd.grad(loss_list[i] * mult,
                                            req_leaves + own,
                                            allow_unused=True)
                fg = [(f, g) for f, g in zip(req_features,
                                             grads[:len(req_leaves)])
                      if g is not None]
                own_grads = grads[len(req_leaves):]
                shared_grads = torch.autograd.grad(
                    [f for f, _ in fg], shared, [g for _, g in fg],
                    retain_graph=not last,
                    allow_unused=True) if fg else [None] * len(shared)
            else:
                # feature mode: one backward to the heads' inputs and the
                # task's own parameters
                grads = torch.autograd.grad(
                    loss_list[i] * mult, shared + own, allow_unused=True)
                shared_grads, own_grads = grads[:len(shared)], \
                    grads[len(shared):]
            for row, g in zip(jacobian[i].split(numels), shared_grads):
                if g is None:
                    row.zero_()
                else:
                    row.copy_(g.reshape(-1))
            if mult != 1.0:
                jacobian[i].div_(mult)
            head_grads.append(list(zip(own, own_grads)))
            # the shared gradients now live in the Jacobian only
            del grads, shared_grads
        gramian = self._local_gramian(jacobian)
        if gramian is None:
            # inf/NaN task gradients (fp16 overflow) on some rank: leave the
            # weights neutral; the scaler sees the inf gradients and skips
            # this step
            weights = torch.ones(len(names), device=jacobian.device)
            update = jacobian.sum(0)
        else:
            weights, update = self._combine(names, global_losses, jacobian,
                                            gramian, feature_mode, logs)
        weights = weights.to(jacobian.device)
        # heads: the gradient of their own loss (weighted for GradNorm-like)
        for w, own_grads in zip(weights, head_grads):
            scale = float(w) if self.balancer.weights_heads else 1.0
            for p, g in own_grads:
                if g is None:
                    continue
                if scale != 1.0:
                    g = g * scale
                p.grad = g if p.grad is None else p.grad + g
        # shared part: J^T w, through the backbone in feature mode
        if mult != 1.0:
            update = update * mult
        pieces = [piece.view_as(t).to(t.dtype)
                  for piece, t in zip(update.split(numels), shared)]
        if feature_mode:
            # through the backbone, from the features (not their copies)
            torch.autograd.backward(req_features, pieces)
        else:
            for p, g in zip(shared, pieces):
                p.grad = g if p.grad is None else p.grad + g
        return weights

    def _local_gramian(self, jacobian: Tensor) -> Optional[Tensor]:
        """``J J^T`` of this rank's task gradients, or None if any rank's
        gradients hold inf/NaN (every rank then takes the same branch, so the
        collectives that follow stay in step)."""
        gramian = jacobian @ jacobian.T
        # an inf/NaN anywhere in J shows on G's diagonal (a sum of squares);
        # J itself is only scanned in the rare case of a non-finite G
        finite = bool(torch.isfinite(gramian).all())
        if not finite and bool(torch.isfinite(jacobian).all()):
            # finite gradients whose squares overflow float32
            gramian = jacobian.double() @ jacobian.double().T
            finite = True
        if is_distributed() and get_world_size() > 1:
            flag = torch.tensor(float(finite), device=jacobian.device)
            torch_dist.all_reduce(flag, op=torch_dist.ReduceOp.MIN)
            finite = bool(flag)
        return gramian if finite else None

    def _combine(self, names: List[str], global_losses: Tensor,
                 jacobian: Tensor, gramian: Tensor, feature_mode: bool,
                 logs: dict) -> Tuple[Tensor, Tensor]:
        """Weights and the shared update ``J^T w`` from the balancer.

        ``gramian`` is this rank's ``J J^T``; under DDP it is turned into
        the Gramian of the global batch here.
        """
        world = get_world_size() if is_distributed() else 1
        if world > 1:
            if feature_mode:
                # features are per sample: the global Gramian of the mean
                # loss is the sum of the local ones / world^2
                torch_dist.all_reduce(gramian)
                gramian.div_(world * world)
            else:
                # parameter gradients are averaged over ranks: average the
                # task gradients (the balancer sees the global ones), then
                # take the Gramian
                torch_dist.all_reduce(jacobian)
                jacobian.div_(world)
                gramian = jacobian @ jacobian.T
        if self.balancer.requires == 'jacobian':
            # feature mode: the balancer reads this rank's feature gradients
            # (they belong to its own samples)
            update = self.balancer.aggregate(global_losses, jacobian)
            weights = torch.ones(len(names), device=jacobian.device)
        else:
            weights = self.balancer.weigh(global_losses, gramian.double())
            weights = weights.to(jacobian.dtype)
            # feature mode: the local J^T w, averaged over ranks with the
            # parameter gradients; parameter mode: already the global one
            update = weights @ jacobian
        if self.log_cosine:
            norms = gramian.diagonal().clamp(min=1e-30).sqrt()
            cos = gramian / (norms[:, None] * norms[None, :])
            for a in range(len(names)):
                logs[f'grad_norm.{names[a]}'] = norms[a].detach()
                for b in range(a + 1, len(names)):
                    logs[f'cos.{names[a]}-{names[b]}'] = cos[a, b].detach()
        return weights, update

    # ------------------------------------------------------------------
    # distributed, step, state
    # ------------------------------------------------------------------
    def _agree_on_tasks(self, task_losses: Dict[str, Tensor],
                        task_names: List[str],
                        features: Sequence[Tensor]) -> Dict[str, Tensor]:
        """Under DDP, make every rank see the same tasks, and average each
        task over the ranks that have its labels.

        A task that some rank has labels for but this one has not gets a
        zero loss here (its gradients from this rank are zero, as the rank's
        samples say nothing about it), keeping the collectives in step. The
        gradients are then averaged over all ``world`` ranks, so a task
        labelled on only ``k`` of them has its loss multiplied by
        ``world / k`` on those ``k``: the average is then the mean over the
        ranks that saw its labels, as one process on the global batch
        computes it, not that mean shrunk by ``k / world``.
        """
        if not is_distributed() or get_world_size() == 1:
            return task_losses
        world = get_world_size()
        present = torch.tensor([n in task_losses for n in task_names],
                               dtype=torch.float32, device=self.device)
        torch_dist.all_reduce(present)
        out = dict(task_losses)
        for name, ranks in zip(task_names, present.tolist()):
            if not ranks:
                continue
            if name not in out:
                out[name] = sum(f.sum() for f in features) * 0.0
            elif ranks < world:
                out[name] = out[name] * (world / ranks)
        return out

    @staticmethod
    def _mean_over_ranks(values: Tensor) -> Tensor:
        if not is_distributed() or get_world_size() == 1:
            return values
        values = values.clone()
        torch_dist.all_reduce(values)
        return values / get_world_size()

    def _all_params(self) -> List[nn.Parameter]:
        return [p for group in self.optimizer.param_groups
                for p in group['params']]

    def _sync_grads(self) -> None:
        """Average gradients over ranks (the DDP reducer is bypassed)."""
        if not is_distributed() or get_world_size() == 1:
            return
        params = [p for p in self._all_params() if p.requires_grad]
        grads = [p.grad if p.grad is not None else torch.zeros_like(p)
                 for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        torch_dist.all_reduce(flat)
        flat.div_(get_world_size())
        offset = 0
        for p, g in zip(params, grads):
            n = g.numel()
            p.grad = flat[offset:offset + n].view_as(p).to(p.dtype)
            offset += n

    def step(self, **kwargs) -> None:
        if self.loss_scaler is None:
            super().step(**kwargs)
            return
        self.loss_scaler.unscale_(self.optimizer)
        if self.clip_grad_kwargs:
            self._clip_grad()
        scale_before = self.loss_scaler.get_scale()
        self.loss_scaler.step(self.optimizer, **kwargs)
        self.loss_scaler.update()
        if self.loss_scaler.get_scale() < scale_before:
            self._skipped_steps += 1

    def _clip_grad(self) -> None:
        super()._clip_grad()
        key = f'train/{self.grad_name}'
        max_norm = self.clip_grad_kwargs.get('max_norm')
        if self.monitor is not None and max_norm is not None and \
                key in self.message_hub.log_scalars:
            self.monitor.observe_clip(
                self.message_hub.get_scalar(key).current(), float(max_norm))

    def _log_to_message_hub(self, logs: Dict[str, Tensor]) -> None:
        hub = MessageHub.get_current_instance()
        for key, value in logs.items():
            if key.startswith(('weight.', 'cos.', 'grad_norm.')):
                hub.update_scalar(f'train/{key}', float(value))
        if self.loss_scaler is not None:
            hub.update_scalar('train/loss_scale', self.loss_scaler.get_scale())

    def state_dict(self) -> dict:
        state = super().state_dict()
        state['balancer'] = self.balancer.state_dict()
        if self.loss_scaler is not None:
            state['loss_scaler'] = self.loss_scaler.state_dict()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        balancer_state = state_dict.pop('balancer', None)
        scaler_state = state_dict.pop('loss_scaler', None)
        if balancer_state is not None:
            self.balancer.load_state_dict(balancer_state)
        if scaler_state is not None:
            if self.loss_scaler is not None:
                self.loss_scaler.load_state_dict(scaler_state)
            else:
                self._scaler_state = scaler_state
        super().load_state_dict(state_dict)
