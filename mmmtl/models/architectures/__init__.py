"""Multi-task architectures beyond hard sharing: what the tasks share."""
from .branched_detector import BranchedMultiTaskDetector
from .cross_stitch_detector import CrossStitchDetector
from .cross_stitch_unit import CrossStitchUnit
from .mtan_detector import MTANDetector
from .sharing_tree_detector import SharingTreeDetector
from .task_attention import TaskAttentionChain

__all__ = [
    'BranchedMultiTaskDetector', 'CrossStitchDetector', 'CrossStitchUnit',
    'MTANDetector', 'SharingTreeDetector', 'TaskAttentionChain'
]
