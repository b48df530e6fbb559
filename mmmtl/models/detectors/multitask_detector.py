"""One shared backbone (and neck) feeding several task heads."""
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple, Union

from mmdet.models.detectors.base import BaseDetector
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.models.utils import samplelist_boxtype2tensor
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.model import ModuleDict
from mmengine.optim import OptimWrapper
from torch import Tensor, nn

from mmmtl.engine.optim_wrappers import balances_tasks
from ..config_checks import install_feature_checks
from ..shared_features import SharedFeatures

Features = Tuple[Tensor, ...]


def build_task_modules(tasks: Dict[str, ConfigType],
                       owner: str = 'MultiTaskDetector') -> ModuleDict:
    """The task modules of ``model.tasks`` (names checked)."""
    if not isinstance(tasks, dict) or not tasks:
        raise ValueError(
            f'{owner}: `tasks` must be a non-empty dict of task '
            f'name -> task config, got {tasks!r}')
    for name in tasks:
        if not isinstance(name, str) or not name or '.' in name:
            raise ValueError(
                f'{owner}: task name {name!r} in `tasks` must be '
                'a non-empty string without "."')
    # mmengine's ModuleDict, not torch's: init_weights() only recurses
    # into children that have it, so the heads' init_cfg (e.g.
    # RetinaHead's bias prior) would otherwise never be applied
    return ModuleDict(
        {name: MODELS.build(cfg) for name, cfg in tasks.items()})


@MODELS.register_module()
class MultiTaskDetector(BaseDetector):
    """A detector that also segments (and does whatever other tasks it holds).

    ``backbone`` and ``neck`` are shared; ``tasks`` maps a task name to a
    task module (:class:`DetectionTask`, :class:`SemanticSegmentationTask`
    or one of your own, see :class:`BaseTask`). Data path::

        inputs -> backbone -> neck -> shared features -> each task's head
               -> per-task losses -> optim wrapper (balancer) -> optimizer

    ``loss()`` returns the losses of all tasks with the task name as prefix
    (``det.loss_cls``, ``seg.loss_ce``), so mmengine's ordinary
    ``OptimWrapper`` trains the sum (equal weighting) and mmdet's own
    ``tools/train.py`` works with ``custom_imports=dict(imports=['mmmtl'])``.
    With a :class:`MultiTaskOptimWrapper`, ``train_step`` hands it the
    per-task losses and the shared features instead, and the wrapper's
    balancer turns them into one update.

    Args:
        backbone (dict): Shared backbone.
        tasks (dict): Task name -> task module config. Names must not
            contain '.'.
        neck (dict, optional): Shared neck.
        data_preprocessor (dict, optional): Usually ``DetDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: ConfigType,
                 tasks: Dict[str, ConfigType],
                 neck: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        if neck is not None:
            self.neck = MODELS.build(neck)
        install_feature_checks(self, tasks)  # heads' inputs vs shared maps
        self.tasks = build_task_modules(tasks, type(self).__name__)
        #: Tasks trained this iteration (None: all). Set by training
        #: strategies such as :class:`AlternatingTasksHook`.
        self.active_tasks: Optional[List[str]] = None

    @classmethod
    def config_for_tasks(cls, model_cfg: dict, tasks: List[str]) -> dict:
        """This model's config with only ``tasks`` of its ``tasks`` (in the
        config's order): the single-task baseline of the same network, for
        ``--tasks``. Architectures whose options name tasks prune those
        too."""
        return dict(model_cfg, tasks={
            name: cfg for name, cfg in model_cfg['tasks'].items()
            if name in tasks})

    @property
    def task_names(self) -> List[str]:
        return list(self.tasks.keys())

    @property
    def predicted_tasks(self) -> Dict[str, nn.Module]:
        """Task name -> task of the tasks the model predicts: all but the
        auxiliary ones (trained, never predicted or exported)."""
        return {name: task for name, task in self.tasks.items()
                if not getattr(task, 'auxiliary', False)}

    def shared_modules(self) -> List[nn.Module]:
        """The modules every task's loss flows through (backbone, neck)."""
        return [self.backbone] + ([self.neck] if self.with_neck else [])

    def task_modules(self) -> Dict[str, List[nn.Module]]:
        """Task name -> the modules only that task's loss flows through
        (besides the shared ones): here its task module. Architectures
        (:mod:`mmmtl.models.architectures`) add the task-specific modules
        they put between the shared features and the heads."""
        return {name: [task] for name, task in self.tasks.items()}

    def extract_feat(self, batch_inputs: Tensor) -> Features:
        """Shared features: the neck's outputs (or the backbone's)."""
        x = self.backbone(batch_inputs)
        if self.with_neck:
            x = self.neck(x)
        return tuple(x)

    def task_features(self, feats: Features,
                      names: Optional[List[str]] = None
                      ) -> Dict[str, Features]:
        """Task name -> the features its task module reads, computed from
        the shared features ``feats``, for the tasks ``names`` (None: all).
        Here every task reads ``feats``; architectures compute their
        task-specific modules above the shared part here."""
        names = self.task_names if names is None else names
        return {name: feats for name in names}

    def task_losses(self, feats: Features,
                    batch_data_samples: SampleList) -> Dict[str, dict]:
        """Task name -> that task's loss dict (empty if no sample has its
        labels); tasks not in ``active_tasks`` are not run."""
        active = self.active_tasks
        names = [n for n in self.task_names if active is None or n in active]
        per_task = self.task_features(feats, names)
        return {
            name: self.tasks[name].loss(per_task[name], batch_data_samples)
            for name in names
        }

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> Dict[str, Tensor]:
        feats = self.extract_feat(batch_inputs)
        losses = {}
        for name, task_loss in self.task_losses(
                feats, batch_data_samples).items():
            losses.update(
                {f'{name}.{key}': value
                 for key, value in task_loss.items()})
        return losses

    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        tasks = self.predicted_tasks
        per_task = self.task_features(self.extract_feat(batch_inputs),
                                      list(tasks))
        for name, task in tasks.items():
            task.predict(per_task[name], batch_data_samples, rescale=rescale)
        samplelist_boxtype2tensor(batch_data_samples)
        return batch_data_samples

    def _forward(self,
                 batch_inputs: Tensor,
                 batch_data_samples: Optional[SampleList] = None) -> tuple:
        """Raw head outputs, one entry per predicted (not auxiliary) task
        in ``tasks`` order."""
        tasks = self.predicted_tasks
        per_task = self.task_features(self.extract_feat(batch_inputs),
                                      list(tasks))
        return tuple(task(per_task[name]) for name, task in tasks.items())

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        """One training step.

        With an ordinary optim wrapper this is mmengine's step (the sum of
        all losses). With a task-balancing one (:func:`balances_tasks`) the
        heads read leaf views of the shared features
        (:meth:`SharedFeatures.cut`), and the wrapper gets each task's loss
        and the :class:`SharedFeatures`, and does the backward pass(es) and
        the step.
        """
        if not balances_tasks(optim_wrapper):
            return super().train_step(data, optim_wrapper)
        with optim_wrapper.optim_context(self):
            data = self.data_preprocessor(data, True)
            features = SharedFeatures.cut(self.extract_feat(data['inputs']))
            per_task = self.task_losses(features.head_inputs,
                                        data['data_samples'])
        task_totals: Dict[str, Tensor] = OrderedDict()
        log_vars: Dict[str, Tensor] = OrderedDict()
        for name, task_loss in per_task.items():
            if not task_loss:
                continue
            total, task_logs = self.parse_losses(task_loss)
            task_totals[name] = total
            log_vars[f'{name}.loss'] = task_logs.pop('loss')
            log_vars.update(
                (f'{name}.{k}', v) for k, v in task_logs.items())
        log_vars.update(optim_wrapper.update_task_params(
            task_totals, features, self.task_names))
        return log_vars
