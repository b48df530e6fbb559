"""DDP wrapper under which a task-balancing optim wrapper still gets per-task losses."""
from typing import Dict, Union

import torch
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper
# mmengine's root registry, not mmdet's: the Runner looks the wrapper type up
# there with MODEL_WRAPPERS.get(type), which does not switch to the default
# scope (mmdet's child registry still finds it through its parent)
from mmengine.registry import MODEL_WRAPPERS

from ..optim_wrappers import balances_tasks
from ..optim_wrappers.rank_sync import broadcast_buffers


@MODEL_WRAPPERS.register_module()
class MultiTaskDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that lets the model balance its tasks.

    mmengine's DDP wrapper re-implements ``train_step`` and never calls the
    model's own, so a task-balancing optim wrapper would only ever see the
    summed loss. This wrapper hands the step to the model's ``train_step``
    when the optim wrapper balances tasks (:func:`balances_tasks`); that
    path computes per-task gradients with ``torch.autograd.grad``, which the
    DDP reducer cannot follow, so the forward bypasses DDP's (its gradient
    hooks stay idle) and the optim wrapper averages gradients over ranks
    itself, once per optimizer step. DDP's buffer broadcast, which its
    forward would do, is done here: with ``broadcast_buffers=True`` (DDP's
    default) rank 0's buffers (BatchNorm running statistics) go to every
    rank before each step's forward pass, so the ranks do not drift apart.
    With an ordinary optim wrapper it is plain
    ``MMDistributedDataParallel``.

    On CPU (gloo) the module's ``device_ids`` are dropped, as DDP requires.
    """

    def __init__(self, module, detect_anomalous_params: bool = False,
                 **kwargs) -> None:
        if not any(p.is_cuda for p in module.parameters()):
            kwargs.pop('device_ids', None)
            kwargs.pop('output_device', None)
        super().__init__(module=module,
                         detect_anomalous_params=detect_anomalous_params,
                         **kwargs)

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        if balances_tasks(optim_wrapper):
            if self.broadcast_buffers:
                broadcast_buffers(self.module)
            return self.module.train_step(data, optim_wrapper)
        return super().train_step(data, optim_wrapper)
