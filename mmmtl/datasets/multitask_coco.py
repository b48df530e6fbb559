"""A COCO-format dataset that also carries a semantic segmentation map per image."""
import os.path as osp
from collections import defaultdict
from typing import List, Sequence, Union

from mmdet.datasets import CocoDataset
from mmdet.datasets.api_wrappers import COCO
from mmdet.registry import DATASETS
from mmengine.fileio import get_local_path

from .annotation_checks import (SkippedAnnotations, box_defect,
                                check_annotation_file, warn_no_annotations)


@DATASETS.register_module()
class MultiTaskCocoDataset(CocoDataset):
    """Detection boxes from a COCO instances JSON plus semantic maps (PNG).

    Detection and segmentation have separate class lists: the detection
    classes are ``metainfo['classes']`` (and ``'palette'``), the segmentation
    classes ``metainfo['seg_classes']`` (and ``'seg_palette'``). Either list
    may be left out of ``metainfo`` and is then read from the annotation file:
    detection classes from its ``categories`` (in id order), segmentation
    classes from a top-level ``"seg_classes"`` key.

    The semantic map of an image is found, in this order, from
    ``seg_file_name`` in its ``images`` entry (relative to
    ``data_prefix['seg']``), or from its ``file_name`` with the extension
    replaced by ``seg_map_suffix`` when ``data_prefix['seg']`` is set. In a
    file that uses ``seg_file_name`` (as mmmtl's converters write), an
    image without it has no segmentation labels; so has any image when
    there is no ``data_prefix['seg']``. Maps hold label ids
    ``0 .. len(seg_classes)-1`` and ``seg_ignore_index`` (default 255).

    Depth maps (for a :class:`DepthEstimationTask`, loaded by
    :class:`LoadDepthAnnotation`) are found under ``data_prefix['depth']``
    by the image's ``file_name`` with a ``.png`` extension; without that
    prefix no image has one.

    Image-level labels (for an :class:`ImageClassificationTask`) are fields
    of the ``images`` entries named in ``image_label_keys``; an image
    without such a field is not labelled for that task. Pack them with
    ``PackMultiTaskInputs(extra_meta_keys=image_label_keys)``.

    A source labelled for one task only: a detection-only dataset simply
    has no semantic maps (no ``data_prefix['seg']``/``seg_file_name``); a
    segmentation-only one sets ``det_labels=False`` (its images are then not
    labelled for detection, whatever the annotation file holds, instead of
    being read as images without objects). Mix sources with mmdet's
    ``ConcatDataset`` and ``MultiSourceSampler`` (``source_ratio``).

    Bad annotations are named, never dropped unseen: an image listed twice
    (by id or by file), an annotation id used twice, an annotation of an
    image or a category the file does not have, and a box that is not four
    numbers are errors. Boxes with NaN/inf coordinates, of zero or negative
    size, under one pixel, or wholly outside the image are skipped (as mmdet
    does), counted by reason in one warning; ``strict=True`` makes them
    errors. Annotations of categories left out of ``metainfo['classes']``
    (a class subset) are skipped and counted too, but are a choice, not an
    error, under ``strict``.
    An image without annotations is an image without objects (a negative
    for detection) unless it says ``"has_det": false``; a file without any
    annotation says so in a warning. The image files' sizes are checked
    against the entries' ``height``/``width`` by
    :class:`LoadMultiTaskAnnotations`, when the image is read.

    Args:
        seg_ignore_index (int): Label id of unlabelled pixels. Default 255.
        det_labels (bool): Whether the images carry detection labels.
            Default True; an image may also say ``"has_det": false``.
        image_label_keys (Sequence[str]): Image-level label fields to read
            from the ``images`` entries. Default none.
        strict (bool): Make every skipped box an error. Default False.
        **kwargs: Everything :class:`mmdet.datasets.CocoDataset` takes.
    """

    METAINFO: dict = dict()

    def __init__(self, *args, seg_ignore_index: int = 255,
                 det_labels: bool = True,
                 image_label_keys: Sequence[str] = (), strict: bool = False,
                 **kwargs) -> None:
        self.seg_ignore_index = seg_ignore_index
        self.strict = strict
        self.det_labels = det_labels
        self.image_label_keys = tuple(image_label_keys)
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        with get_local_path(
                self.ann_file, backend_args=self.backend_args) as local_path:
            if not osp.isfile(local_path):
                raise FileNotFoundError(
                    f'{type(self).__name__}: annotation file not found: '
                    f'{self.ann_file}')
            self.coco = COCO(local_path)
        check_annotation_file(self.coco.dataset, self.ann_file)
        self._complete_metainfo(self.coco.dataset)
        # a file that names seg maps per image (converters' output) leaves
        # the images without one unlabelled for segmentation
        self._names_seg_files = any(
            'seg_file_name' in img for img in self.coco.dataset['images'])

        self._map_categories()
        self._skipped = SkippedAnnotations(self.ann_file, self.strict)
        data_list = []
        for img_id in self.coco.get_img_ids():
            raw_img_info = self.coco.load_imgs([img_id])[0]
            raw_img_info['img_id'] = img_id
            raw_ann_info = self.coco.load_anns(
                self.coco.get_ann_ids(img_ids=[img_id]))
            data_list.append(
                self.parse_data_info(
                    dict(raw_img_info=raw_img_info,
                         raw_ann_info=raw_ann_info)))
        self._skipped.log(type(self).__name__)
        if self.det_labels and data_list and not self.coco.anns:
            warn_no_annotations(type(self).__name__, self.ann_file,
                                len(data_list))
        del self.coco, self._skipped
        return data_list

    def _map_categories(self) -> None:
        """Category id -> detection label, for the classes of the metainfo;
        a class that is not a category of the file is an error naming it."""
        self.cat_ids = self.coco.get_cat_ids(
            cat_names=self.metainfo['classes'])
        missing = set(self.metainfo['classes']) - {
            self.coco.cats[i]['name'] for i in self.cat_ids
        }
        if missing:
            raise ValueError(
                f'{type(self).__name__}: detection classes {sorted(missing)} '
                f'of metainfo["classes"] are not categories of '
                f'{self.ann_file}')
        self.cat2label = {cat_id: i for i, cat_id in enumerate(self.cat_ids)}
        # a defaultdict, as mmdet's: a class without boxes in this split
        # has no entry, and mmdet's filter_data looks every class up
        self.cat_img_map = defaultdict(
            list, {k: list(v) for k, v in self.coco.cat_img_map.items()})

    def _complete_metainfo(self, coco_dataset: dict) -> None:
        """Fill in class lists the config left out from the annotation file."""
        meta = self._metainfo
        if 'classes' not in meta:
            cats = sorted(coco_dataset.get('categories', []),
                          key=lambda c: c['id'])
            meta['classes'] = tuple(c['name'] for c in cats)
        if 'seg_classes' not in meta and 'seg_classes' in coco_dataset:
            meta['seg_classes'] = tuple(coco_dataset['seg_classes'])
        if 'seg_classes' in meta:
            meta['seg_classes'] = tuple(meta['seg_classes'])
            palette = meta.get('seg_palette')
            if palette is not None and len(palette) < len(meta['seg_classes']):
                raise ValueError(
                    f'{type(self).__name__}: metainfo["seg_palette"] has '
                    f'{len(palette)} colours for '
                    f'{len(meta["seg_classes"])} seg_classes')

    def parse_data_info(self, raw_data_info: dict) -> Union[dict, List[dict]]:
        img_info = raw_data_info['raw_img_info']
        # mmdet's parsing gives paths and sizes; the boxes are parsed here,
        # counting what is skipped
        data_info = super().parse_data_info(
            dict(raw_img_info=img_info, raw_ann_info=[]))
        seg_prefix = self.data_prefix.get('seg', None)
        if 'seg_file_name' in img_info:
            data_info['seg_map_path'] = osp.join(seg_prefix or '',
                                                 img_info['seg_file_name'])
        elif getattr(self, '_names_seg_files', False):
            data_info['seg_map_path'] = None
        # else: CocoDataset already derived it from file_name when the
        # 'seg' prefix is set, and left None otherwise.
        if data_info['seg_map_path'] is not None:
            if 'seg_classes' not in self._metainfo:
                raise ValueError(
                    f'{type(self).__name__}: {self.ann_file} has semantic '
                    f'maps but no segmentation classes: set '
                    f'metainfo=dict(seg_classes=...) in the dataset config '
                    f'or a top-level "seg_classes" key in the annotation file')
            data_info['num_seg_classes'] = len(self._metainfo['seg_classes'])
            data_info['seg_ignore_index'] = self.seg_ignore_index
        data_info['depth_map_path'] = self._depth_map_path(img_info)
        # Images may be marked as not annotated for detection (partial labels).
        data_info['has_det'] = self.det_labels and bool(
            img_info.get('has_det', True))
        if data_info['has_det']:
            data_info['instances'] = self._parse_instances(
                img_info, raw_data_info['raw_ann_info'])
        for key in self.image_label_keys:
            data_info[key] = img_info.get(key)
        return data_info

    def _depth_map_path(self, img_info: dict):
        """The image's depth map: its ``file_name`` with a ``.png``
        extension under ``data_prefix['depth']``; None without it."""
        prefix = self.data_prefix.get('depth')
        if prefix is None:
            return None
        return osp.join(prefix,
                        osp.splitext(img_info['file_name'])[0] + '.png')

    def _parse_instances(self, img_info: dict, anns: List[dict]) -> List[dict]:
        """mmdet's instances of an image; skipped boxes are counted."""
        instances = []
        for ann in anns:
            if ann.get('ignore', False):
                continue
            reason = box_defect(ann, img_info['width'], img_info['height'],
                                img_info['file_name'])
            if reason is not None:
                self._skipped.add(reason, ann, img_info['file_name'])
                continue
            if ann['category_id'] not in self.cat2label:  # a class subset
                self._skipped.add('of a category not in metainfo["classes"]',
                                  ann, img_info['file_name'], defect=False)
                continue
            x1, y1, w, h = ann['bbox']
            instance = dict(bbox=[x1, y1, x1 + w, y1 + h],
                            bbox_label=self.cat2label[ann['category_id']],
                            ignore_flag=int(bool(ann.get('iscrowd', False))))
            if ann.get('segmentation', None):
                instance['mask'] = ann['segmentation']
            instances.append(instance)
        return instances

    def filter_data(self) -> List[dict]:
        # An image without boxes still teaches segmentation: only drop it
        # when it has no semantic map either.
        if self.test_mode or self.filter_cfg is None:
            return self.data_list
        if not self.filter_cfg.get('filter_empty_gt', False):
            return super().filter_data()
        min_size = self.filter_cfg.get('min_size', 0)
        return [
            info for info in self.data_list
            if (info['instances'] or info['seg_map_path'] is not None)
            and min(info['width'], info['height']) >= min_size
        ]
