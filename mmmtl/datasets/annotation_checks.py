"""Checks of a COCO annotation file: what is wrong is named, never dropped
unseen (an unknown category would otherwise be learned as background)."""
import logging
import math
from collections import Counter
from typing import Iterable, List, Optional

from mmengine.logging import print_log


def _repeated(values: Iterable) -> List:
    return [v for v, n in Counter(values).items() if n > 1]


def check_unique_entries(coco: dict, ann_file: str) -> None:
    """An image listed twice (same id, or same file under two ids) and an
    annotation id used twice are errors: pycocotools would keep one of
    each silently, or train the image twice."""
    images = coco.get('images', [])
    for key, what in (('id', 'image ids'), ('file_name', 'image files')):
        twice = _repeated(img.get(key) for img in images)
        if twice:
            raise ValueError(
                f'{ann_file}: {what} {twice[:10]} are listed more than once '
                f'in "images" (each image must be listed once)')
    twice = _repeated(ann.get('id') for ann in coco.get('annotations', []))
    if twice:
        raise ValueError(f'{ann_file}: annotation ids {twice[:10]} are used '
                         f'more than once')


def check_annotation_refs(coco: dict, ann_file: str) -> None:
    """Every annotation's image and category exist in the file."""
    files = {img.get('id'): img.get('file_name')
             for img in coco.get('images', [])}
    cat_ids = {cat.get('id') for cat in coco.get('categories', [])}
    for ann in coco.get('annotations', []):
        if ann.get('image_id') not in files:
            raise ValueError(
                f'{ann_file}: annotation {ann.get("id")} refers to image id '
                f'{ann.get("image_id")!r}, which is not in "images"')
        if ann.get('category_id') not in cat_ids:
            raise ValueError(
                f'{ann_file}: annotation {ann.get("id")} of image '
                f'{files[ann["image_id"]]} has category id '
                f'{ann.get("category_id")!r}, which is not among the '
                f'categories (ids {sorted(cat_ids)[:20]})')


def check_annotation_file(coco: dict, ann_file: str) -> None:
    """All checks of the file as a whole (see the two above)."""
    check_unique_entries(coco, ann_file)
    check_annotation_refs(coco, ann_file)


def box_defect(ann: dict, width: int, height: int,
               file_name: str) -> Optional[str]:
    """Why the COCO box ``[x, y, w, h]`` of ``ann`` can't be trained on
    (None: it can). A box that is not four numbers is an error."""
    bbox = ann.get('bbox')
    try:
        x, y, w, h = (float(v) for v in bbox)
    except (TypeError, ValueError) as err:
        raise ValueError(f'annotation {ann.get("id")} of image {file_name}: '
                         f'bbox {bbox!r} is not [x, y, w, h]') from err
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        return 'with NaN/inf coordinates'
    if w <= 0 or h <= 0:
        return 'of zero or negative size'
    if w < 1 or h < 1 or ann.get('area', w * h) <= 0:
        return 'under 1 pixel wide or high, or of area <= 0'
    if min(x + w, width) <= max(x, 0) or min(y + h, height) <= max(y, 0):
        return 'outside the image'
    return None


def warn_no_annotations(owner: str, ann_file: str, num_images: int) -> None:
    """A file labelled for detection without a single annotation."""
    print_log(f'{owner}: {ann_file} has no annotations: its {num_images} '
              f'images train detection as images without objects '
              f'(det_labels=False if the file is not labelled for '
              f'detection)', logger='current', level=logging.WARNING)


class SkippedAnnotations:
    """Counts annotations left out, by reason, for one warning at the end;
    with ``strict`` a defect is an error at once.

    Args:
        ann_file (str): The annotation file (for the messages).
        strict (bool): Raise at the first defect instead of skipping.
    """

    def __init__(self, ann_file: str, strict: bool = False) -> None:
        self.ann_file, self.strict = ann_file, strict
        self.counts: Counter = Counter()
        self.first: dict = {}

    def add(self, reason: str, ann: dict, file_name: str,
            defect: bool = True) -> None:
        """Count ``ann`` as skipped; a ``defect`` raises under ``strict``
        (a deliberate choice, such as a class subset, does not)."""
        where = f'annotation {ann.get("id")} of image {file_name}'
        if self.strict and defect:
            raise ValueError(f'{self.ann_file}: {where}: box '
                             f'{ann.get("bbox")} {reason} (strict=True)')
        self.counts[reason] += 1
        self.first.setdefault(reason, where)

    def log(self, owner: str) -> None:
        """One warning with the counts, if anything was skipped."""
        if not self.counts:
            return
        parts = '; '.join(f'{n} {reason} (first: {self.first[reason]})'
                          for reason, n in self.counts.most_common())
        print_log(f'{owner}: skipped {sum(self.counts.values())} '
                  f'annotations of {self.ann_file}: {parts}. '
                  f'strict=True makes box defects errors',
                  logger='current', level=logging.WARNING)
