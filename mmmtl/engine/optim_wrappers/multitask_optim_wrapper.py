"""An optim wrapper that balances the tasks of a multi-task model."""
import contextlib
from typing import (TYPE_CHECKING, Dict, List, Optional, Sequence, Union)

import torch
from mmdet.registry import OPTIM_WRAPPERS
from mmengine.logging import MessageHub
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from torch import Tensor, nn
from torch.optim import Optimizer

from mmmtl.balancers import Balancer
from mmmtl.registry import build_balancer
from .balancer_monitor import BalancerMonitor
from .jacobian_modes import JACOBIAN_MODES
from .mixed_precision import autocast_dtype, back_off, build_loss_scaler
from .rank_sync import agree_on_tasks, average_gradients, mean_over_ranks
from .step_guard import NonFiniteStep, StepGuard
from .task_updates import SummedLossUpdate, TaskStep, build_task_update

if TYPE_CHECKING:
    from mmmtl.models.shared_features import SharedFeatures


@OPTIM_WRAPPERS.register_module()
class MultiTaskOptimWrapper(OptimWrapper):
    """Turns the per-task losses of an mmmtl model into one optimizer step.

    Built by :class:`MultiTaskOptimWrapperConstructor`, which passes the
    balancer (built for the model's tasks), the shared parameters (the
    model's ``shared_modules()``) and each task's parameters. The model's
    ``train_step`` calls :meth:`update_task_params` with each task's loss
    and its :class:`~mmmtl.models.SharedFeatures`.

    The kind of update is chosen once, from the balancer's kind (see
    :mod:`.task_updates`): loss weighting (one backward of
    ``sum_t w_t L_t``), Gramian weighting or Jacobian aggregation (per-task
    gradients ``J``, shared update ``J^T w`` or the aggregator's). So is the
    Jacobian mode of gradient methods (see :mod:`.jacobian_modes`): w.r.t.
    the shared **features** (default, about the cost of one backward) or
    the shared **parameters** (exact, one backward through the shared part
    per task). Each head gets the gradient of its own loss.

    Gradient accumulation is mmengine's (``accumulative_counts``; each loss
    scaled as ``OptimWrapper.scale_loss`` scales it, in a Runner or not).
    AMP (``amp=True``): autocast in ``dtype`` on the model's device, CPU
    included; with float16 a ``GradScaler`` scales each task's loss,
    per-task gradients are unscaled before the balancer reads them, and the
    step is ``AmpOptimWrapper``'s.

    A step whose losses or gradients are not finite, in any task and on any
    rank, is skipped (see :class:`StepGuard`): weights, optimizer and
    balancer state and the model's buffers stay as they were, a warning
    names the tasks and the iteration, ``train/skipped_steps`` counts them,
    and ``max_consecutive_skips`` skipped steps in a row stop training.

    Under distributed training (with :class:`MultiTaskDistributedDataParallel`
    as model wrapper) the wrapper averages gradients over ranks itself (a
    parameter no rank has a gradient for keeps none); the balancer reads
    losses and Gramians reduced over all ranks, so every rank computes the
    same weights.

    Args:
        optimizer (Optimizer): The optimizer.
        balancer (dict | Balancer): The task balancer, e.g.
            ``dict(type='PCGrad')``. Default: equal weighting. Its learnable
            parameters (if any) are added to the optimizer, without weight
            decay.
        jacobian_mode (str): ``'feature'`` or ``'parameter'``; ignored by
            loss weightings. A balancer may force one (MGDA-UB: feature).
        amp (bool): Mixed precision. Default False.
        dtype (str): Autocast dtype under AMP: ``'float16'`` (default on
            CUDA) or ``'bfloat16'`` (default on CPU).
        loss_scale (str | float | dict): As ``AmpOptimWrapper``'s:
            ``'dynamic'`` (default), a fixed scale, or kwargs of
            ``torch.amp.GradScaler``; float16 only.
        log_cosine (bool): Log the pairwise cosine similarity of task
            gradients and each task's gradient norm (gradient methods only).
            Default True.
        monitor (dict | bool): Arguments of the :class:`BalancerMonitor`;
            ``False`` turns it off. Default: on.
        shared_params (list[Parameter]): The shared parameters.
        task_params (dict[str, list[Parameter]]): Each task's parameters.
        max_consecutive_skips (int, optional): Raise after this many
            consecutive skipped (non-finite) steps. None: never. Default 50.
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
                 max_consecutive_skips: Optional[int] = 50,
                 **kwargs) -> None:
        super().__init__(optimizer, **kwargs)
        self.balancer = _as_balancer(balancer)
        self._train_balancer_params()
        self.shared_params = list(shared_params or [])
        self.task_params = {k: list(v) for k, v in (task_params or {}).items()}
        mode = self.balancer.jacobian_mode or jacobian_mode
        if mode not in JACOBIAN_MODES:
            raise ValueError(f'optim_wrapper.jacobian_mode must be one of '
                             f'{tuple(JACOBIAN_MODES)}, got {mode!r}')
        self.jacobian_mode = mode
        self.monitor = BalancerMonitor.build(type(self.balancer).__name__,
                                             monitor)
        self.amp = bool(amp)
        self.cast_dtype = autocast_dtype(dtype, self.device)
        self.loss_scaler = build_loss_scaler(loss_scale, self.device) \
            if self.amp and self.cast_dtype == torch.float16 else None
        # AmpOptimWrapper's step passes this to scaler.update()
        self._scale_update_param = None
        self._update = build_task_update(self.balancer,
                                         JACOBIAN_MODES[mode](),
                                         self.shared_params,
                                         self.task_params, log_cosine)
        self._sum_update = SummedLossUpdate(type(self.balancer).__name__)
        self._guard = StepGuard(max_consecutive_skips)
        self._window_clean = True

    def _train_balancer_params(self) -> None:
        known = {id(p) for g in self.optimizer.param_groups
                 for p in g['params']}
        extra = [p for p in self.balancer.parameters()
                 if p.requires_grad and id(p) not in known]
        if extra:
            self.optimizer.add_param_group(dict(params=extra,
                                                weight_decay=0.0))

    @property
    def device(self) -> torch.device:
        if self.shared_params:
            return self.shared_params[0].device
        return self.optimizer.param_groups[0]['params'][0].device

    @property
    def skipped_steps(self) -> int:
        """How many steps were skipped for non-finite losses/gradients."""
        return self._guard.skipped_steps

    @contextlib.contextmanager
    def optim_context(self, model: nn.Module):
        """mmengine's context (no DDP sync inside an accumulation window),
        autocast under AMP; remembers the model's buffers, put back if the
        step is skipped."""
        self._guard.save_buffers(model)
        autocast = torch.autocast(device_type=self.device.type,
                                  dtype=self.cast_dtype) \
            if self.amp else contextlib.nullcontext()
        with super().optim_context(model), autocast:
            yield

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
                parameter mode, except on a step where the balancer reuses
                its weights).
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
        step = self._task_step(task_losses, features, list(task_names))
        if step is None:
            logs = dict(loss=torch.zeros((), device=self.device))
        else:
            logs = self._backward(step)
        self._inner_count += 1
        if self.should_update():
            self._end_window()
        self._log_to_message_hub(logs)
        return logs

    def _task_step(self, task_losses: Dict[str, Tensor], features,
                   task_names: List[str]) -> Optional[TaskStep]:
        """The step's tasks as all ranks agree on them (None: no task has
        a labelled sample on any rank)."""
        task_losses = agree_on_tasks(task_losses, task_names,
                                     features.head_inputs, self.device)
        names = [n for n in task_names if n in task_losses]
        if not names:
            return None
        # each task's own scalar is kept for its backward: a backward from
        # an element of the stacked vector would also run (with zeros)
        # through every other task's head
        losses = [task_losses[n].float() for n in names]
        positions = [task_names.index(n) for n in names] \
            if len(names) < len(task_names) else None
        return TaskStep(names, losses,
                        mean_over_ranks(torch.stack(losses).detach()),
                        positions, features, self._loss_multiplier())

    def _loss_multiplier(self) -> float:
        """Loss scale (AMP) times mmengine's accumulation factor."""
        factor = float(self.scale_loss(torch.ones(())))
        if self.loss_scaler is None:
            return factor
        # scaler.scale() (not get_scale) so that the scaler knows it was
        # used this iteration, as unscale_ requires
        return float(self.loss_scaler.scale(
            torch.ones((), device=self.device))) * factor

    def _backward(self, step: TaskStep) -> Dict[str, Tensor]:
        """The update for the step's kind, or a skipped step."""
        update = self._update
        if step.positions is not None and \
                not self.balancer.supports_task_subsets:
            # the method's state couples the tasks: sum the present losses
            update = self._sum_update
        try:
            self._guard.check_losses(step.names, step.global_losses)
            with self._guard.fresh_gradients(self._all_params(),
                                             self.balancer, self.task_params):
                weights, logs = update(step)
        except NonFiniteStep as reason:
            return self._skip(reason, step)
        self._guard.passed()
        weights = weights.detach()
        logs['loss'] = (weights * torch.stack(step.losses).detach()).sum()
        for name, w in zip(step.names, weights):
            logs[f'weight.{name}'] = w
        if self.monitor is not None:
            self.monitor.observe_weights(
                {n: float(w) for n, w in zip(step.names, weights)})
        return logs

    def _skip(self, reason: NonFiniteStep, step: TaskStep
              ) -> Dict[str, Tensor]:
        if self.loss_scaler is not None:
            # as torch's AMP does with any inf/NaN step (an inf loss under
            # float16 is often an overflow of the forward pass)
            back_off(self.loss_scaler)
        self._window_clean = False
        # in a Runner the count starts at the run's iteration
        self._guard.skipped(reason, self._inner_count + 1)
        return dict(loss=torch.stack(step.losses).detach().sum())

    def _all_params(self) -> List[nn.Parameter]:
        return [p for group in self.optimizer.param_groups
                for p in group['params']]

    def _end_window(self) -> None:
        """The optimizer step at the end of an accumulation window, unless
        one of its steps was skipped."""
        if self._window_clean:
            average_gradients(self._all_params())
            self.step()
        self.zero_grad()
        self._window_clean = True

    def step(self, **kwargs) -> None:
        if self.loss_scaler is None:
            super().step(**kwargs)
        else:
            AmpOptimWrapper.step(self, **kwargs)

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
        hub.update_scalar('train/skipped_steps', self.skipped_steps)
        if self.loss_scaler is not None:
            hub.update_scalar('train/loss_scale', self.loss_scaler.get_scale())

    def state_dict(self) -> dict:
        state = super().state_dict()
        state['balancer'] = self.balancer.state_dict()
        state['balancer_type'] = type(self.balancer).__name__
        if self.loss_scaler is not None:
            state['loss_scaler'] = self.loss_scaler.state_dict()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        balancer_state = state_dict.pop('balancer', None)
        saved_type = state_dict.pop('balancer_type', None)
        scaler_state = state_dict.pop('loss_scaler', None)
        if balancer_state is not None:
            _load_balancer_state(self.balancer, balancer_state, saved_type)
        if scaler_state is not None and self.loss_scaler is not None:
            self.loss_scaler.load_state_dict(scaler_state)
        super().load_state_dict(state_dict)


def _load_balancer_state(balancer: Balancer, state: dict,
                         saved_type: Optional[str]) -> None:
    """Load a checkpoint's balancer state; when it does not fit, say that
    the checkpoint's balancer and ``optim_wrapper.balancer`` differ."""
    name = type(balancer).__name__
    try:
        balancer.load_state_dict(state)
    except RuntimeError as err:
        saved = saved_type or 'not recorded (an older checkpoint)'
        raise RuntimeError(
            f'The checkpoint\'s balancer state does not fit '
            f'optim_wrapper.balancer (type {name}); the checkpoint\'s '
            f'balancer: {saved}. Resume with the balancer (and its '
            f'options, e.g. the number of tasks) the checkpoint was '
            f'trained with, or load only the weights (`load_from`, no '
            f'`resume`). torch: {err}') from err


def _as_balancer(balancer: Union[dict, Balancer, None]) -> Balancer:
    if balancer is None:
        balancer = dict(type='EqualWeighting')
    if isinstance(balancer, dict):
        balancer = build_balancer(balancer)
    if not isinstance(balancer, Balancer):
        raise TypeError('optim_wrapper.balancer must be a balancer config '
                        f'or a Balancer, got {type(balancer).__name__}')
    return balancer
