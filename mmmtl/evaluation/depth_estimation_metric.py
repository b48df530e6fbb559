"""Depth errors and accuracies of a :class:`DepthEstimationTask`."""
from typing import Dict, Optional, Sequence

from mmdet.registry import METRICS
from mmseg.evaluation import DepthMetric


@METRICS.register_module()
class DepthEstimationMetric(DepthMetric):
    """mmseg's ``DepthMetric`` for multi-task data samples.

    Per image, over its pixels of known depth (ground truth in
    ``(min_depth_eval, max_depth_eval)``; 0 is unknown), then averaged over
    the images, as Eigen et al. 2014 evaluate (d = prediction, g = ground
    truth, both in metres):

    * ``abs_rel``: mean |d - g| / g;  ``sq_rel``: mean (d - g)^2 / g;
    * ``rmse``: sqrt(mean (d - g)^2);  ``rmse_log``: the same on log depths;
    * ``log10``: mean |log10 d - log10 g|;  ``silog``: the scale-invariant
      log error, sqrt(mean e^2 - 0.5 (mean e)^2), e = log d - log g;
    * ``d1``, ``d2``, ``d3``: the fraction of pixels with
      max(d / g, g / d) below 1.25, 1.25^2, 1.25^3 (delta < 1.25...).

    The errors are lower-is-better and the ``d*`` accuracies
    higher-is-better (:func:`mmmtl.evaluation.delta_m.lower_is_better`
    knows them). Reads ``pred_depth_map`` and ``gt_depth_map`` (``data``);
    images without a depth map, or without a pixel of known depth, are
    skipped. Results are prefixed ``depth/`` by default.

    Args:
        depth_metrics (Sequence[str], optional): The metrics to report
            (default all of the above).
        prefix (str): Prefix of the metric names. Default ``'depth'``.
        **kwargs: As :class:`mmseg.evaluation.DepthMetric`
            (``min_depth_eval``, ``max_depth_eval``, ``crop_type``...).
    """

    def __init__(self, depth_metrics: Optional[Sequence[str]] = None,
                 prefix: str = 'depth', **kwargs) -> None:
        # mmseg 1.2.2 checks a given depth_metrics with isinstance(x,
        # [tuple, list]), a TypeError: checked here instead
        super().__init__(prefix=prefix, **kwargs)
        if depth_metrics is not None:
            unknown = sorted(set(depth_metrics) - set(self.METRICS))
            if unknown or not depth_metrics:
                raise ValueError(
                    f'DepthEstimationMetric: depth_metrics {unknown or "[]"} '
                    f'not among {list(self.METRICS)}')
            self.metrics = tuple(depth_metrics)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'gt_depth_map' not in sample:
                continue
            if 'pred_depth_map' not in sample:
                raise KeyError(
                    'DepthEstimationMetric: a sample with a depth map has no '
                    'prediction "pred_depth_map"; is there a '
                    'DepthEstimationTask in the model?')
            pred = sample['pred_depth_map']['data'].squeeze()
            gt = sample['gt_depth_map']['data'].squeeze().to(pred)
            if gt.shape != pred.shape:
                raise ValueError(
                    f'DepthEstimationMetric: the depth map of '
                    f'{sample.get("img_path")} is {tuple(gt.shape)} but the '
                    f'prediction is {tuple(pred.shape)}: in the test '
                    f'pipeline load it with LoadDepthAnnotation('
                    f'align_with_image=False), at the original image size')
            mask = self._get_eval_mask(gt)
            if mask.any():
                self.results.append((gt[mask], pred[mask]))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        if not results:
            raise ValueError('DepthEstimationMetric: no image of the '
                             'evaluated set has a pixel of known depth')
        return super().compute_metrics(results)
