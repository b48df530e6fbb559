"""A sharing tree: a trunk shared by all tasks, a branch per task group."""
from typing import Dict, List, Optional, Sequence

from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.model import ModuleDict
from torch import Tensor, nn

from ..detectors.multitask_detector import Features
from . import backbone_stages as bs
from .branched_detector import BranchedMultiTaskDetector, parse_groups


@MODELS.register_module()
class SharingTreeDetector(BranchedMultiTaskDetector):
    """Hierarchical sharing: general layers at the bottom, task-group layers
    in the middle, task layers on top (the "tree" of e.g. Vandenhende et
    al., "Branched Multi-Task Networks", BMVC 2020, here fixed by config).

    The backbone's stem and stages ``0 .. branch_stage - 1`` are the trunk,
    shared by all tasks. Each group of ``groups`` has its own copy of the
    stages from ``branch_stage`` on and its own copy of ``neck``, and the
    heads of its tasks read that neck (a task's own ``neck`` adds the task
    level). ``branch_stage`` equal to the number of stages (default) shares
    the whole backbone and gives each group a neck of its own.

    What is shared, for :class:`MultiTaskOptimWrapper`: the shared features
    (:meth:`extract_feat`, the feature-mode Jacobian's inputs) are the
    trunk's output (stage ``branch_stage - 1``, or the stem's) and the
    lower stage outputs the groups' necks read; the shared parameters
    (:meth:`shared_modules`, parameter mode) are the trunk's. A group's
    stages and neck are trained by its tasks' own backward passes (the sum
    of their gradients, as a head shared by them would be), not balanced.

    Args:
        backbone (dict): The backbone (ResNet family, CSPDarknet, CSPNeXt;
            see :mod:`.backbone_stages`), split at ``branch_stage``.
        tasks (dict): Task name -> task config.
        groups (dict): Group name -> its tasks, e.g.
            ``dict(det=['det'], dense=['seg', 'depth'])``.
        neck (dict, optional): Each group's neck.
        branch_stage (int, optional): First stage of the groups' own.
    """

    groups_option = 'groups'

    def __init__(self,
                 backbone: ConfigType,
                 tasks: Dict[str, ConfigType],
                 groups: Dict[str, Sequence[str]],
                 neck: OptConfigType = None,
                 branch_stage: Optional[int] = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(tasks, data_preprocessor, init_cfg)
        self.branches = parse_groups(groups, self.task_names, 'model.groups')
        self.backbone = MODELS.build(backbone)
        stages = bs.num_stages(self.backbone)
        self.branch_stage = stages if branch_stage is None else branch_stage
        if not 0 <= self.branch_stage <= stages:
            raise ValueError(f'model.branch_stage={branch_stage}: give a '
                             f'stage among 0..{stages} (the backbone has '
                             f'{stages}; {stages}: split after the last)')
        if self.branch_stage == stages and neck is None:
            raise ValueError('model.neck is None and model.branch_stage is '
                             'the last: the groups would have nothing of '
                             'their own (use MultiTaskDetector)')
        self.group_backbones = None
        if self.branch_stage < stages:
            copies = self.build_copies(backbone, list(self.branches))
            for copy in copies.values():  # the trunk runs the lower part
                bs.drop_modules(copy, bs.stem_modules(copy) + bs.stage_modules(
                    copy, 0, self.branch_stage))
            self.group_backbones = ModuleDict(copies)
        bs.drop_modules(self.backbone, bs.stage_modules(
            self.backbone, self.branch_stage, stages))
        self.build_necks(neck)

    def _read_below_split(self) -> List[int]:
        """The out_indices the groups' necks read from the trunk, below
        its last stage."""
        return [i for i in bs.out_indices(self.backbone)
                if i < self.branch_stage - 1]

    def extract_feat(self, batch_inputs: Tensor) -> Features:
        """The shared features: the trunk's output first, then the lower
        stage outputs the necks read."""
        self.note_input(batch_inputs)
        x = bs.run_stem(self.backbone, batch_inputs)
        outs: List[Tensor] = []
        x = bs.run_stages(self.backbone, x, 0, self.branch_stage, outs)
        read = self._read_below_split()
        return (x, ) + tuple(outs[:len(read)])

    def branch_features(self, branch: str, shared: Features) -> Features:
        """The group's stages on the trunk's output, then its neck."""
        x, outs = shared[0], list(shared[1:])
        if self.branch_stage - 1 in bs.out_indices(self.backbone):
            outs.append(x)
        if self.group_backbones is not None:
            bs.run_stages(self.group_backbones[branch], x, self.branch_stage,
                          bs.num_stages(self.backbone), outs)
        return self.run_neck(branch, outs)

    def branch_modules(self, branch: str) -> List[nn.Module]:
        """The group's stages and neck."""
        stages = [] if self.group_backbones is None else [
            self.group_backbones[branch]]
        return stages + self.neck_modules(branch)
