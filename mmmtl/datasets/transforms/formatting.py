"""Packing of multi-task samples."""
import numpy as np
from mmcv.transforms import to_tensor
from mmdet.datasets.transforms import PackDetInputs
from mmdet.registry import TRANSFORMS
from mmengine.structures import PixelData

from mmmtl.utils.labelled_fields import set_labelled_fields


@TRANSFORMS.register_module()
class PackMultiTaskInputs(PackDetInputs):
    """``PackDetInputs`` that also records which labels a sample carries.

    Writes the metainfo ``labelled_fields`` (see
    :mod:`mmmtl.utils.labelled_fields`, the one partial-label rule every
    task reads): the ``gt_*`` fields packed (``gt_instances``,
    ``gt_sem_seg``...), less ``gt_instances`` when the dataset marks the
    image as not annotated for detection (``has_det`` False in its data
    info), plus those of ``extra_meta_keys`` (such as image-level labels)
    whose value is not None.

    A depth map (``gt_depth_map``, see :class:`LoadDepthAnnotation`) is
    packed as ``gt_depth_map = PixelData(data=(1, H, W) tensor)``, as
    mmseg's ``PackSegInputs`` does.
    """

    def __init__(self,
                 meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                            'scale_factor', 'flip', 'flip_direction'),
                 extra_meta_keys=()) -> None:
        super().__init__(meta_keys=tuple(meta_keys) + tuple(extra_meta_keys))
        self.extra_meta_keys = tuple(extra_meta_keys)

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        sample = packed['data_samples']
        if results.get('gt_depth_map') is not None:
            depth = np.ascontiguousarray(results['gt_depth_map'][None])
            sample.gt_depth_map = PixelData(data=to_tensor(depth))
        fields = {k for k in sample.keys() if k.startswith('gt_')}
        if results.get('has_det') is False:
            fields.discard('gt_instances')
        fields.update(k for k in self.extra_meta_keys
                      if results.get(k) is not None)
        set_labelled_fields(sample, fields)
        return packed
