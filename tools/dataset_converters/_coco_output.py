"""The multi-task COCO JSON that the BDD100K and Cityscapes converters write:
numbered ``images`` and ``annotations``, the detection ``categories`` and a
top-level ``seg_classes`` list (what ``MultiTaskCocoDataset`` reads).
Imported as a sibling module, like ``_converter_utils``.
"""
import os.path as osp
from typing import Iterable, List, Sequence, Tuple

from _converter_utils import dump_json


def number_entries(
        frames: Iterable[Tuple[dict, List[dict]]]) -> Tuple[list, list]:
    """COCO ``images`` and ``annotations`` from ``(image, its annotations)``
    pairs, neither with ids yet: image ids count 1, 2, ... in the given
    order, annotation ids 1, 2, ... across all images; ``id`` (and the
    annotations' ``image_id``) come first in each entry."""
    images, annotations = [], []
    for img_id, (image, anns) in enumerate(frames, start=1):
        images.append(dict(id=img_id, **image))
        for ann in anns:
            annotations.append(
                dict(id=len(annotations) + 1, image_id=img_id, **ann))
    return images, annotations


def write_multitask_json(out_dir: str, split: str, dataset: str,
                         images: list, annotations: list, categories: list,
                         seg_classes: Sequence[str]) -> str:
    """Write ``{out_dir}/instances_{split}.json``, described as
    ``'{dataset} {split} (mmmtl multi-task format)'``; returns its path."""
    out_file = osp.join(out_dir, f'instances_{split}.json')
    dump_json(
        dict(info=dict(description=f'{dataset} {split} '
                       '(mmmtl multi-task format)'),
             images=images, annotations=annotations,
             categories=categories, seg_classes=list(seg_classes)),
        out_file)
    return out_file
