"""Base of the multi-task architectures whose tasks read features of their
own: a shared trunk, then one branch per task or per group of tasks."""
from typing import ClassVar, Dict, List, Optional, Sequence

from mmdet.models.detectors.base import BaseDetector
from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.model import ModuleDict
from torch import Tensor, nn

from ..config_checks import batch_features, check_heads, neck_features
from ..detectors.multitask_detector import (Features, MultiTaskDetector,
                                            build_task_modules)


def parse_groups(groups: Optional[Dict[str, Sequence[str]]],
                 task_names: Sequence[str], key: str) -> Dict[str, List[str]]:
    """Branch name -> its tasks; ``None``: one branch per task. Every task
    must be in exactly one group (``key`` names the config option)."""
    if groups is None:
        return {name: [name] for name in task_names}
    if not isinstance(groups, dict) or not groups:
        raise ValueError(f'{key} must be a non-empty dict of group name -> '
                         f'list of task names, got {groups!r}')
    seen: Dict[str, str] = {}
    for group, members in groups.items():
        if isinstance(members, str) or not members:
            raise ValueError(f'{key}.{group} must be a non-empty list of '
                             f'task names, got {members!r}')
        for task in members:
            if task not in task_names:
                raise ValueError(f'{key}.{group} names task {task!r}, which '
                                 f'is not in model.tasks ({list(task_names)})')
            if task in seen:
                raise ValueError(f'task {task!r} is in two groups: '
                                 f'{key}.{seen[task]} and {key}.{group}')
            seen[task] = group
    missing = [t for t in task_names if t not in seen]
    if missing:
        raise ValueError(f'{key} leaves out the tasks {missing}: every task '
                         'of model.tasks must be in one group')
    return {group: list(members) for group, members in groups.items()}


class BranchedMultiTaskDetector(MultiTaskDetector):
    """A shared trunk, then a *branch* per task or per group of tasks.

    What the trunk returns (:meth:`extract_feat`) is the cut that
    :class:`SharedFeatures` makes in training: the last tensors every task
    depends on. Each branch (:meth:`branch_features`) reads them and gives
    the features its tasks' heads read; branches run above the cut, so each
    task's own backward trains its branch (a branch of several tasks gets
    the sum of their gradients, as a head would). Subclasses set
    ``self.branches`` (branch name -> task names) and implement
    :meth:`extract_feat`, :meth:`branch_features`, :meth:`shared_modules`
    and :meth:`branch_modules`.

    The heads are checked against their branch's neck at build time
    (:meth:`build_necks`) and against their branch's features at the
    first forward pass, as :class:`MultiTaskDetector` checks them against
    the shared neck.
    """

    #: The config option that groups the tasks into branches (None: one
    #: branch per task, fixed by the class).
    groups_option: ClassVar[Optional[str]] = None

    @classmethod
    def config_for_tasks(cls, model_cfg: dict, tasks: List[str]) -> dict:
        """Also drops the other tasks from the groups, and groups left
        empty."""
        cfg = super().config_for_tasks(model_cfg, tasks)
        groups = cfg.get(cls.groups_option) if cls.groups_option else None
        if groups is not None:
            pruned = {group: [t for t in members if t in tasks]
                      for group, members in groups.items()}
            cfg[cls.groups_option] = {
                group: members for group, members in pruned.items()
                if members}
        return cfg

    def __init__(self, tasks: Dict[str, ConfigType],
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        # MultiTaskDetector.__init__ builds one shared backbone and neck:
        # the subclass builds its own parts instead
        BaseDetector.__init__(self, data_preprocessor=data_preprocessor,
                              init_cfg=init_cfg)
        self.tasks = build_task_modules(tasks, type(self).__name__)
        self.active_tasks: Optional[List[str]] = None
        self.branches: Dict[str, List[str]] = {}
        self.necks: Optional[ModuleDict] = None
        self._task_cfgs = {k: dict(v) for k, v in tasks.items()}
        self._input_size = None
        self._checked: set = set()   # branches checked at a forward pass

    # ---------------------------------------------------------------- build
    @staticmethod
    def build_copies(cfg: OptConfigType, names: Sequence[str]
                     ) -> Optional[Dict[str, nn.Module]]:
        """One module per name from the same config (None: no config)."""
        if cfg is None:
            return None
        return {name: MODELS.build(dict(cfg)) for name in names}

    def build_necks(self, neck: OptConfigType) -> None:
        """``self.necks``: one copy of ``neck`` per branch (None: none),
        each branch's heads checked against its neck's settings."""
        necks = self.build_copies(neck, list(self.branches))
        # mmengine's ModuleDict: init_weights() recurses into it
        self.necks = ModuleDict(necks) if necks else None
        for branch, built in (necks or {}).items():
            shared = neck_features(built)
            if shared is not None:
                check_heads(self._branch_cfgs(branch), shared)

    def _branch_cfgs(self, branch: str) -> Dict[str, dict]:
        return {t: self._task_cfgs[t] for t in self.branches[branch]}

    def run_neck(self, branch: str, outs: Sequence[Tensor]) -> Features:
        """The branch's neck on ``outs`` (``outs`` without a neck)."""
        if self.necks is None:
            return tuple(outs)
        return tuple(self.necks[branch](list(outs)))

    def neck_modules(self, branch: str) -> List[nn.Module]:
        return [] if self.necks is None else [self.necks[branch]]

    # -------------------------------------------------------------- forward
    def branch_features(self, branch: str, shared: Features) -> Features:
        """The features the tasks of ``branch`` read, from the trunk's."""
        raise NotImplementedError

    def branch_modules(self, branch: str) -> List[nn.Module]:
        """The modules of ``branch`` (trained by its tasks' losses)."""
        raise NotImplementedError

    def shared_modules(self) -> List[nn.Module]:
        """The shared part: the backbone (the trunk) here."""
        return [self.backbone]

    def note_input(self, batch_inputs: Tensor) -> None:
        """Keep the input size for the first forward pass's checks."""
        if len(self._checked) < len(self.branches):
            self._input_size = tuple(batch_inputs.shape[-2:])

    def task_features(self, feats: Features,
                      names: Optional[Sequence[str]] = None
                      ) -> Dict[str, Features]:
        """Task name -> its branch's features; each branch runs once."""
        names = self.task_names if names is None else list(names)
        out: Dict[str, Features] = {}
        for branch, members in self.branches.items():
            wanted = [t for t in members if t in names]
            if not wanted:
                continue
            branch_feats = tuple(self.branch_features(branch, feats))
            if branch not in self._checked:
                check_heads(self._branch_cfgs(branch),
                            batch_features(self._input_size, branch_feats))
                self._checked.add(branch)
            out.update((t, branch_feats) for t in wanted)
        return out

    def task_modules(self) -> Dict[str, List[nn.Module]]:
        """Task name -> its task module and its branch's modules."""
        out = {}
        for branch, members in self.branches.items():
            for task in members:
                out[task] = [self.tasks[task]] + self.branch_modules(branch)
        return out
