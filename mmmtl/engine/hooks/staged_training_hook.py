"""Freeze and unfreeze parts of the model by iteration."""
from typing import List, Sequence

from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch.nn import GroupNorm, LayerNorm
from torch.nn.modules.batchnorm import _BatchNorm

_NORMS = (_BatchNorm, GroupNorm, LayerNorm)


@HOOKS.register_module()
class StagedTrainingHook(Hook):
    """Staged training: which parts of the model learn, stage by stage.

    ``stages`` is a list of ``dict(begin=ITER, freeze=[...], unfreeze=[...])``
    whose entries are module names of the model (``'backbone'``, ``'neck'``,
    ``'tasks.seg'``, ``'tasks.det.head.cls_convs'``...). From iteration
    ``begin`` on, the parameters under ``freeze`` stop learning
    (``requires_grad=False``, and their norm layers stop updating running
    statistics: they are put in eval mode) and those under ``unfreeze``
    learn again. Stages apply in order of ``begin``; on resume every stage
    that has begun is applied again, so a resumed run trains what the
    uninterrupted one would have.

    Example: train the detection head alone for 1000 iterations, then
    everything::

        custom_hooks = [dict(type='StagedTrainingHook', stages=[
            dict(begin=0, freeze=['backbone', 'neck', 'tasks.seg']),
            dict(begin=1000, unfreeze=['backbone', 'neck', 'tasks.seg'])])]
    """

    priority = 'NORMAL'

    def __init__(self, stages: Sequence[dict]) -> None:
        self.stages: List[dict] = []
        for i, stage in enumerate(stages):
            unknown = set(stage) - {'begin', 'freeze', 'unfreeze'}
            if 'begin' not in stage or unknown:
                raise ValueError(
                    f'StagedTrainingHook: stage {i} must be dict(begin=..., '
                    f'freeze=[...], unfreeze=[...]), got {stage}')
            self.stages.append(dict(begin=int(stage['begin']),
                                    freeze=list(stage.get('freeze', [])),
                                    unfreeze=list(stage.get('unfreeze', []))))
        self.stages.sort(key=lambda s: s['begin'])
        self._frozen: set = set()

    @staticmethod
    def _model(runner):
        return runner.model.module if is_model_wrapper(runner.model) \
            else runner.model

    def _apply(self, model, stage: dict) -> None:
        names = dict(model.named_modules())
        for key in stage['freeze'] + stage['unfreeze']:
            if key not in names:
                raise ValueError(
                    f'StagedTrainingHook: {key!r} is not a module of the '
                    f'model (e.g. backbone, neck, tasks.<name>)')
        for key in stage['freeze']:
            self._frozen.add(key)
        for key in stage['unfreeze']:
            self._frozen.discard(key)
        for key in stage['freeze'] + stage['unfreeze']:
            frozen = key in self._frozen
            for p in names[key].parameters():
                p.requires_grad_(not frozen)

    def _set_norm_modes(self, model) -> None:
        names = dict(model.named_modules())
        for key in self._frozen:
            for m in names[key].modules():
                if isinstance(m, _NORMS):
                    m.eval()

    def before_train(self, runner) -> None:
        model = self._model(runner)
        for stage in self.stages:
            if stage['begin'] <= runner.iter:
                self._apply(model, stage)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        model = self._model(runner)
        for stage in self.stages:
            if stage['begin'] == runner.iter and runner.iter > 0:
                self._apply(model, stage)
        self._set_norm_modes(model)

