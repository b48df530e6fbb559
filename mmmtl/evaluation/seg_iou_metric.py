"""mIoU over the segmentation classes of a multi-task dataset."""
from typing import Dict, Sequence

from mmdet.registry import METRICS
from mmseg.evaluation import IoUMetric


@METRICS.register_module()
class SegIoUMetric(IoUMetric):
    """mmseg's ``IoUMetric`` (mIoU, aAcc, mAcc...) for mmdet data samples.

    Reads the segmentation classes from ``dataset_meta['seg_classes']`` (the
    detection classes stay in ``'classes'`` for ``CocoMetric``), reads
    ``gt_sem_seg``/``pred_sem_seg`` as mmdet stores them (``sem_seg``), and
    skips images that have no semantic map (detection-only samples).
    Results are prefixed ``seg/`` by default (``seg/mIoU``).

    Args:
        prefix (str): Prefix of the metric names. Default ``'seg'``.
        **kwargs: As :class:`mmseg.evaluation.IoUMetric`.
    """

    def __init__(self, prefix: str = 'seg', **kwargs) -> None:
        super().__init__(prefix=prefix, **kwargs)

    def _seg_classes(self) -> Sequence[str]:
        meta = self.dataset_meta or {}
        if 'seg_classes' not in meta:
            raise KeyError(
                'SegIoUMetric needs dataset_meta["seg_classes"]: use a dataset '
                'with segmentation classes (e.g. MultiTaskCocoDataset with '
                'metainfo=dict(seg_classes=...))')
        return meta['seg_classes']

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        num_classes = len(self._seg_classes())
        for sample in data_samples:
            if 'gt_sem_seg' not in sample or 'pred_sem_seg' not in sample:
                continue
            pred = sample['pred_sem_seg']
            pred = (pred['data'] if 'data' in pred else pred['sem_seg'])
            pred = pred.squeeze()
            gt = sample['gt_sem_seg']
            gt = (gt['data'] if 'data' in gt else gt['sem_seg'])
            gt = gt.squeeze().to(pred)
            self.results.append(
                self.intersect_and_union(pred, gt, num_classes,
                                         self.ignore_index))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        if not results:
            raise ValueError('SegIoUMetric: no image of the evaluated set has '
                             'a semantic map to compare with')
        det_meta = self.dataset_meta
        self._dataset_meta = dict(det_meta, classes=self._seg_classes())
        try:
            return super().compute_metrics(results)
        finally:
            self._dataset_meta = det_meta
