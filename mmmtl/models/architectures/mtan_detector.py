"""MTAN: task attention on a shared backbone (Liu et al. 2019)."""
from typing import Dict, List

from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.model import ModuleDict
from torch import Tensor, nn

from ..detectors.multitask_detector import Features
from . import backbone_stages as bs
from .branched_detector import BranchedMultiTaskDetector
from .task_attention import TaskAttentionChain


@MODELS.register_module()
class MTANDetector(BranchedMultiTaskDetector):
    """Multi-Task Attention Network (Liu et al., "End-to-End Multi-Task
    Learning with Attention", CVPR 2019) with any mmdet/mmseg heads.

    One shared backbone; every task has a :class:`TaskAttentionChain` that
    masks the backbone's stage outputs element-wise with masks computed
    from the shared features (each stage's features before its last block)
    and from the task's own masked features of the stage below. The
    task's masked stage outputs (``out_indices``) go through the task's
    own copy of ``neck`` to its head. In the paper the shared network is a
    SegNet and the "decoders" are per-task; here the backbone is any
    ResNet-family / CSP backbone (see :mod:`.backbone_stages`) whose stages
    are ``nn.Sequential`` blocks, and the necks are per task.

    What is shared, for :class:`MultiTaskOptimWrapper`: the shared features
    (:meth:`extract_feat`, the feature-mode Jacobian's inputs) are the
    backbone's tensors the attention modules read, ``u_j`` and ``p_j`` of
    every stage; the shared parameters (:meth:`shared_modules`, parameter
    mode) are the backbone's. The attention chain and neck of a task are
    trained by that task's own backward; the ``f_j`` convolutions linking
    the stages are shared between the tasks' chains as in the paper's code
    (``shared_block_convs=True``) and so get the sum of the tasks' own
    gradients, as a head shared by tasks would (``False``: one set per
    task).

    Args:
        backbone (dict): The shared backbone.
        tasks (dict): Task name -> task config.
        neck (dict, optional): Each task's neck on its masked features.
        shared_block_convs (bool): One set of ``f_j`` for all tasks.
            Default True.
        attention_norm_cfg (dict, optional): Normalisation in the attention
            modules (None: none, the convolutions get biases). Default BN,
            as in the paper.
    """

    def __init__(self,
                 backbone: ConfigType,
                 tasks: Dict[str, ConfigType],
                 neck: OptConfigType = None,
                 shared_block_convs: bool = True,
                 attention_norm_cfg: ConfigType = dict(type='BN'),
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(tasks, data_preprocessor, init_cfg)
        self.branches = {name: [name] for name in self.task_names}
        self.backbone = MODELS.build(backbone)
        self.build_necks(neck)
        u_channels, p_channels = self._attention_channels()
        norm = dict(attention_norm_cfg) if attention_norm_cfg else None

        def block_convs():
            return TaskAttentionChain.build_block_convs(
                u_channels, p_channels, norm)

        shared_convs = block_convs() if shared_block_convs else None
        self.attention = ModuleDict({
            name: TaskAttentionChain(u_channels, p_channels,
                                     shared_convs or block_convs(), norm)
            for name in self.task_names})

    def _attention_channels(self):
        """Channels of ``u_j`` and ``p_j``; each stage's mask (made at
        ``u_j``'s size) must fit ``p_j``."""
        u_channels, p_channels = [], []
        for j, (u, p) in enumerate(bs.probe_stages(self.backbone)):
            bs.split_stage(bs.stage(self.backbone, j))
            if u[-2:] != p[-2:]:
                raise ValueError(
                    f'model.backbone stage {j}: its features before the '
                    f'last block are {tuple(u[-2:])} but its output is '
                    f'{tuple(p[-2:])}; MTAN masks the output at the size of '
                    'the former')
            u_channels.append(int(u[1]))
            p_channels.append(int(p[1]))
        return u_channels, p_channels

    def extract_feat(self, batch_inputs: Tensor) -> Features:
        """The shared features: ``u_0, p_0, u_1, p_1, ...`` (each stage's
        features before its last block, and its output)."""
        self.note_input(batch_inputs)
        x = bs.run_stem(self.backbone, batch_inputs)
        shared: List[Tensor] = []
        for j in range(bs.num_stages(self.backbone)):
            body, last = bs.split_stage(bs.stage(self.backbone, j))
            u = body(x)
            x = last(u)
            shared += [u, x]
        return tuple(shared)

    def branch_features(self, branch: str, shared: Features) -> Features:
        """The task's masked stage outputs, through its neck."""
        masked = self.attention[branch](shared)
        outs = [masked[j] for j in bs.out_indices(self.backbone)]
        return self.run_neck(branch, outs)

    def branch_modules(self, branch: str) -> List[nn.Module]:
        """The task's attention chain (with the ``f_j``) and neck."""
        return [self.attention[branch]] + self.neck_modules(branch)
