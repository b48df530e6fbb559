"""Top-1 accuracy of an :class:`ImageClassificationTask`."""
from typing import Dict, Sequence

from mmdet.registry import METRICS
from mmengine.evaluator import BaseMetric


@METRICS.register_module()
class ImageClassificationMetric(BaseMetric):
    """Top-1 accuracy (in %) of the image labels under ``label_key``.

    Compares the metainfo key ``pred_<label_key>`` that
    :class:`ImageClassificationTask` writes with the ground truth
    ``<label_key>``; images without a ground-truth label are skipped.
    Result: ``<prefix>/accuracy`` (``cls/accuracy`` by default).

    Args:
        label_key (str): Metainfo key of the image label. Default
            ``'image_label'``, as the task's.
        prefix (str): Prefix of the metric name. Default ``'cls'``.
    """

    default_prefix = 'cls'

    def __init__(self, label_key: str = 'image_label', **kwargs) -> None:
        super().__init__(**kwargs)
        self.label_key = label_key

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        pred_key = f'pred_{self.label_key}'
        for sample in data_samples:
            gt = sample.get(self.label_key)
            if gt is None:
                continue
            if pred_key not in sample:
                raise KeyError(
                    f'ImageClassificationMetric: a sample labelled with '
                    f'"{self.label_key}" has no prediction "{pred_key}"; is '
                    f'there an ImageClassificationTask with label_key='
                    f'{self.label_key!r} in the model?')
            self.results.append(int(sample[pred_key]) == int(gt))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        if not results:
            raise ValueError(
                'ImageClassificationMetric: no image of the evaluated set has '
                f'the label "{self.label_key}"')
        return dict(accuracy=100.0 * sum(results) / len(results))
