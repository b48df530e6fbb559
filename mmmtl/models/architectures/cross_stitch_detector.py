"""Cross-stitch networks (Misra et al. 2016) with any mmdet/mmseg heads."""
from typing import Dict, List, Optional, Sequence

from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.model import ModuleDict
from torch import Tensor, nn

from ..detectors.multitask_detector import Features
from . import backbone_stages as bs
from .branched_detector import BranchedMultiTaskDetector, parse_groups
from .cross_stitch_unit import CrossStitchUnit


@MODELS.register_module()
class CrossStitchDetector(BranchedMultiTaskDetector):
    """One backbone (and neck) per task or group of tasks, mixed by learned
    cross-stitch units (Misra et al., "Cross-stitch Networks for Multi-task
    Learning", CVPR 2016).

    Every *column* is a copy of ``backbone`` (and ``neck``) built from the
    same config. After each backbone stage in ``stitch_stages`` a
    :class:`CrossStitchUnit` mixes the columns' maps, each column going on
    with its mixed map; the neck of a column reads the stage outputs of
    that column (``out_indices``; mixed where a unit follows the stage) and
    feeds the heads of the column's tasks. ``columns=None`` gives one column
    per task; ``columns=dict(a=['det'], b=['seg', 'depth'])`` one per group.

    What is shared, for :class:`MultiTaskOptimWrapper` (with ``L`` the last
    stage in ``stitch_stages``): every task depends on all columns up to
    stage ``L`` and on the units before it. The shared features
    (:meth:`extract_feat`, the feature-mode Jacobian's inputs) are the
    *inputs of the last cross-stitch unit* (the columns' stage-``L``
    outputs) plus the lower mixed maps the necks read; the shared
    parameters (:meth:`shared_modules`, parameter mode) are the columns'
    stems, stages ``0..L`` and the units before the last. Above the cut,
    column ``c``'s row of the last unit, its stages after ``L`` and its neck
    are trained by its own tasks' backward (:meth:`branch_modules`).

    Args:
        backbone (dict): Each column's backbone (ResNet family, CSPDarknet,
            CSPNeXt: see :mod:`.backbone_stages`).
        tasks (dict): Task name -> task config.
        neck (dict, optional): Each column's neck.
        columns (dict, optional): Column name -> its tasks.
        stitch_stages (sequence[int]): Stages after which a unit mixes the
            columns. Default: all but the last.
        alpha_self, alpha_other, per_channel: Each unit's start, see
            :class:`CrossStitchUnit`. Default 0.9, ``0.1 / (T - 1)``, True.
    """

    groups_option = 'columns'

    @classmethod
    def config_for_tasks(cls, model_cfg: dict, tasks: List[str]) -> dict:
        """With one column left there is nothing to stitch it to: the
        baseline is that column, a :class:`MultiTaskDetector` of the same
        backbone and neck."""
        cfg = super().config_for_tasks(model_cfg, tasks)
        columns = cfg.get('columns') or cfg['tasks']
        if len(columns) >= 2:
            return cfg
        kept = ('backbone', 'neck', 'tasks', 'data_preprocessor', 'init_cfg')
        return dict({key: cfg[key] for key in kept if key in cfg},
                    type='MultiTaskDetector')

    def __init__(self,
                 backbone: ConfigType,
                 tasks: Dict[str, ConfigType],
                 neck: OptConfigType = None,
                 columns: Optional[Dict[str, Sequence[str]]] = None,
                 stitch_stages: Optional[Sequence[int]] = None,
                 alpha_self: float = 0.9,
                 alpha_other: Optional[float] = None,
                 per_channel: bool = True,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(tasks, data_preprocessor, init_cfg)
        self.branches = parse_groups(columns, self.task_names,
                                     'model.columns')
        if len(self.branches) < 2:
            raise ValueError('CrossStitchDetector needs at least 2 columns, '
                             f'model.columns gives {len(self.branches)}')
        # mmengine's ModuleDict: init_weights() recurses into it
        self.backbones = ModuleDict(
            self.build_copies(backbone, list(self.branches)))
        self.build_necks(neck)
        first = self.backbones[self.column_names[0]]
        stages = bs.num_stages(first)
        if stitch_stages is None:
            stitch_stages = range(stages - 1)
        self.stitch_stages = sorted(set(stitch_stages))
        if not self.stitch_stages or not all(
                0 <= i < stages for i in self.stitch_stages):
            raise ValueError(
                f'model.stitch_stages={list(stitch_stages)}: give stages '
                f'among 0..{stages - 1} (the backbone has {stages})')
        channels = bs.stage_channels(first)
        self.stitches = ModuleDict({
            str(i): CrossStitchUnit(len(self.branches), channels[i],
                                    alpha_self, alpha_other, per_channel)
            for i in self.stitch_stages})

    @property
    def column_names(self) -> List[str]:
        return list(self.branches)

    @property
    def last_stitch(self) -> int:
        return self.stitch_stages[-1]

    def _read_below_cut(self) -> List[int]:
        """The out_indices the necks read below the last unit."""
        first = self.backbones[self.column_names[0]]
        return [i for i in bs.out_indices(first) if i < self.last_stitch]

    def extract_feat(self, batch_inputs: Tensor) -> Features:
        """The shared features: the inputs of the last unit (one map per
        column), then the lower maps the necks read (level by level, one
        per column)."""
        self.note_input(batch_inputs)
        cols = [self.backbones[c] for c in self.column_names]
        xs = [bs.run_stem(b, batch_inputs) for b in cols]
        read: List[Tensor] = []
        for i in range(self.last_stitch + 1):
            xs = [bs.stage(b, i)(x) for b, x in zip(cols, xs)]
            if i == self.last_stitch:
                break
            if str(i) in self.stitches:
                xs = self.stitches[str(i)](xs)
            if i in bs.out_indices(cols[0]):
                read.extend(xs)
        return tuple(xs) + tuple(read)

    def branch_features(self, branch: str, shared: Features) -> Features:
        """Column ``branch``: its row of the last unit, its stages above,
        its neck."""
        num, c = len(self.branches), self.column_names.index(branch)
        backbone = self.backbones[branch]
        levels = self._read_below_cut()
        outs = [shared[num * (1 + k) + c] for k in range(len(levels))]
        x = self.stitches[str(self.last_stitch)].rows[c](shared[:num])
        if self.last_stitch in bs.out_indices(backbone):
            outs.append(x)
        bs.run_stages(backbone, x, self.last_stitch + 1,
                      bs.num_stages(backbone), outs)
        return self.run_neck(branch, outs)

    def shared_modules(self) -> List[nn.Module]:
        """Every column's stem and stages up to the last unit, and the
        units before it."""
        modules: List[nn.Module] = []
        for backbone in self.backbones.values():
            modules += bs.stem_modules(backbone)
            modules += bs.stage_modules(backbone, 0, self.last_stitch + 1)
        modules += [self.stitches[str(i)] for i in self.stitch_stages[:-1]]
        return modules

    def branch_modules(self, branch: str) -> List[nn.Module]:
        """Column ``branch``'s row of the last unit, stages above it and
        neck."""
        backbone = self.backbones[branch]
        c = self.column_names.index(branch)
        modules = [self.stitches[str(self.last_stitch)].rows[c]]
        modules += bs.stage_modules(backbone, self.last_stitch + 1,
                                    bs.num_stages(backbone))
        return modules + self.neck_modules(branch)
