"""The built-in synthetic multi-task dataset, generated on first use."""
from typing import Optional

from mmdet.registry import DATASETS
from mmengine.dist import barrier, get_rank

from .multitask_coco import MultiTaskCocoDataset
from .synthetic import (DET_CLASSES, DET_PALETTE, SEG_CLASSES, SEG_PALETTE,
                        ensure_synthetic_dataset)


@DATASETS.register_module()
class SyntheticMultiTaskDataset(MultiTaskCocoDataset):
    """:class:`MultiTaskCocoDataset` over the synthetic scenes of
    :mod:`mmmtl.datasets.synthetic`, written under ``data_root`` the first
    time it is needed (rank 0 writes, the other ranks wait).

    Args:
        data_root (str): Where the dataset lives (or will be written).
        generate (dict, optional): Arguments of
            :func:`ensure_synthetic_dataset` (``num_train``, ``num_val``,
            ``img_size``, ``seed``, ``depth``: depth maps too, read with
            ``data_prefix=dict(..., depth='depth_maps/{split}/')``).
            ``None`` never generates.
        **kwargs: As :class:`MultiTaskCocoDataset`.
    """

    METAINFO = dict(
        classes=DET_CLASSES,
        palette=DET_PALETTE,
        seg_classes=SEG_CLASSES,
        seg_palette=SEG_PALETTE)

    def __init__(self, data_root: str, generate: Optional[dict] = None,
                 **kwargs) -> None:
        if generate is not None:
            if get_rank() == 0:
                ensure_synthetic_dataset(data_root, **generate)
            barrier()
        super().__init__(data_root=data_root, **kwargs)
