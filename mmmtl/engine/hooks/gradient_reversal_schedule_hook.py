"""Sets the training progress of the model's gradient-reversal layers."""
from mmdet.registry import HOOKS
from mmengine.hooks import Hook

from mmmtl.models.layers import GradientReversal


@HOOKS.register_module()
class GradientReversalScheduleHook(Hook):
    """Before each training iteration, gives every
    :class:`GradientReversal` of the model the training progress ``p =
    iter / max_iters`` (in [0, 1]), from which a DANN-scheduled layer takes
    its weight ``2 / (1 + exp(-gamma p)) - 1`` (Ganin & Lempitsky 2015).
    Resuming sets the progress of the resumed iteration."""

    priority = 'NORMAL'

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        progress = min(runner.iter / max(runner.max_iters, 1), 1.0)
        for module in runner.model.modules():
            if isinstance(module, GradientReversal):
                module.set_progress(progress)
