"""Give every image of a pipeline the same image-level label."""
from mmcv.transforms import BaseTransform
from mmdet.registry import TRANSFORMS


@TRANSFORMS.register_module()
class SetImageLabel(BaseTransform):
    """Set ``results[key] = value`` for every image: an image-level label
    that all images of a dataset share, such as the data source in
    multi-source training (one pipeline per source, each with its own
    ``value``). Pack it with ``PackMultiTaskInputs(extra_meta_keys=[key])``:
    it lands in the sample's metainfo and its ``labelled_fields``.

    Args:
        key (str): The label's name, e.g. ``'source'``.
        value (int): Its value for every image of this pipeline.
    """

    def __init__(self, key: str, value: int) -> None:
        if not isinstance(key, str) or not key:
            raise ValueError(f'SetImageLabel: key must be a non-empty '
                             f'string, got {key!r}')
        self.key = key
        self.value = value

    def transform(self, results: dict) -> dict:
        results[self.key] = self.value
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(key={self.key!r}, value={self.value!r})'
