"""Which labels a sample carries: the one rule every task reads.

Partial labels (a detection-only source, images without a semantic map, an
image-level label given for some images only) are told to the tasks in one
way: the sample's metainfo key ``labelled_fields``, a tuple of the names of
the label fields the sample is labelled for. A field is a data field of the
sample (``gt_instances``, ``gt_sem_seg``, ``gt_depth_map``...) or a
metainfo key (an image-level label such as ``image_label``).

* :class:`PackMultiTaskInputs` writes it: the ``gt_*`` fields it packed,
  less ``gt_instances`` for an image the dataset marks as not annotated for
  detection (``has_det`` False in its data info: such an image has no
  boxes, which must not read as "no objects"), plus those of its
  ``extra_meta_keys`` whose value is not None.
* A sample without the key (packed by mmdet's ``PackDetInputs``, or made by
  hand) is labelled for every field it carries: its data fields and its
  metainfo keys whose value is not None.

A task names its field (``BaseTask.label_field``) and is trained on the
samples labelled for it (``BaseTask.is_labeled``).
"""
from typing import FrozenSet, Iterable

from mmengine.structures import BaseDataElement

LABELLED_FIELDS = 'labelled_fields'


def carried_fields(data_sample: BaseDataElement) -> FrozenSet[str]:
    """The sample's data fields and its metainfo keys whose value is not
    None."""
    meta = {k for k, v in data_sample.metainfo_items() if v is not None}
    return frozenset(data_sample.keys()) | meta


def labelled_fields(data_sample: BaseDataElement) -> FrozenSet[str]:
    """The label fields ``data_sample`` is labelled for: its metainfo
    ``labelled_fields`` if it has one, else :func:`carried_fields`."""
    fields = data_sample.metainfo.get(LABELLED_FIELDS)
    if fields is None:
        return carried_fields(data_sample)
    return frozenset(fields)


def set_labelled_fields(data_sample: BaseDataElement,
                        fields: Iterable[str]) -> None:
    """Record in ``data_sample``'s metainfo the fields it is labelled for."""
    data_sample.set_metainfo({LABELLED_FIELDS: tuple(sorted(fields))})
