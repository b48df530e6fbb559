"""Packing of multi-task samples."""
from mmdet.datasets.transforms import PackDetInputs
from mmdet.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PackMultiTaskInputs(PackDetInputs):
    """``PackDetInputs`` that also keeps which tasks a sample is labelled for.

    Adds ``has_det`` (False for an image marked as not annotated for
    detection) to the sample's metainfo, plus ``extra_meta_keys`` (such as
    image-level labels); segmentation labels are present exactly when the
    sample has ``gt_sem_seg``.
    """

    def __init__(self,
                 meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                            'scale_factor', 'flip', 'flip_direction',
                            'has_det'),
                 extra_meta_keys=()) -> None:
        super().__init__(meta_keys=tuple(meta_keys) + tuple(extra_meta_keys))
