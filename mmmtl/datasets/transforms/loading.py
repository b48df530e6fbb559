"""Loading of multi-task annotations, with checks that name the bad file."""
import mmcv
import numpy as np
from mmdet.datasets.transforms import LoadAnnotations
from mmdet.registry import TRANSFORMS
from mmengine.fileio import get


@TRANSFORMS.register_module()
class LoadMultiTaskAnnotations(LoadAnnotations):
    """mmdet's ``LoadAnnotations`` with ``with_seg=True`` and checked seg maps.

    Beyond loading boxes (and masks, if asked) it checks the image and its
    semantic map, and raises an error naming the file when:

    * the image read before (``ori_shape``) is not of the ``height`` and
      ``width`` its entry in the annotation file gives (the boxes are in
      the entry's coordinates);
    * the map file does not exist, or can't be decoded (truncated, not an
      image);
    * its height and width differ from the image's;
    * it holds a label id outside ``0 .. num_seg_classes-1`` that is not the
      ignore index.

    Images without a semantic map (``seg_map_path`` is None) load as
    detection-only samples.
    """

    def __init__(self, with_seg: bool = True, **kwargs) -> None:
        super().__init__(with_seg=with_seg, **kwargs)

    def transform(self, results: dict) -> dict:
        self._check_image_size(results)
        return super().transform(results)

    @staticmethod
    def _check_image_size(results: dict) -> None:
        if 'ori_shape' not in results or 'height' not in results:
            return
        entry = (results['height'], results['width'])
        if tuple(results['ori_shape'][:2]) != entry:
            h, w = results['ori_shape'][:2]
            raise ValueError(
                f'image {results.get("img_path")} is {h}x{w} (HxW) but its '
                f'entry in the annotation file says {entry[0]}x{entry[1]}')

    def _read_seg_map(self, results: dict) -> np.ndarray:
        path = results['seg_map_path']
        try:
            data = get(path, backend_args=self.backend_args)
        except FileNotFoundError as e:
            raise FileNotFoundError(
                f'semantic map not found: {path} (for image '
                f'{results.get("img_path")})') from e
        seg = mmcv.imfrombytes(data, flag='unchanged',
                               backend=self.imdecode_backend)
        if seg is None:
            raise ValueError(
                f'semantic map {path} could not be decoded (truncated or not '
                f'an image file; for image {results.get("img_path")})')
        return seg.squeeze()

    def _load_seg_map(self, results: dict) -> None:
        """mmdet's loading (``reduce_zero_label``, ``label_map``), with
        the checks above."""
        path = results.get('seg_map_path', None)
        if path is None:
            return
        seg = self._read_seg_map(results)
        if self.reduce_zero_label:
            seg[seg == 0] = self.ignore_index
            seg = seg - 1
            seg[seg == self.ignore_index - 1] = self.ignore_index
        if results.get('label_map', None) is not None:
            original = seg.copy()
            for old_id, new_id in results['label_map'].items():
                seg[original == old_id] = new_id
        results['gt_seg_map'] = seg
        self._check_seg_map(results)

    def _check_seg_map(self, results: dict) -> None:
        path, seg = results['seg_map_path'], results['gt_seg_map']
        if seg.ndim != 2:
            raise ValueError(
                f'semantic map {path} must be single-channel (H, W) label ids,'
                f' got an array of shape {seg.shape}')
        img_hw = tuple(results['ori_shape'][:2]) if 'ori_shape' in results \
            else (results.get('height'), results.get('width'))
        if tuple(seg.shape) != img_hw:
            raise ValueError(
                f'semantic map {path} is {seg.shape[0]}x{seg.shape[1]} (HxW) '
                f'but its image {results.get("img_path")} is '
                f'{img_hw[0]}x{img_hw[1]}')
        num_classes = results.get('num_seg_classes')
        if num_classes is not None:
            ignore = results.get('seg_ignore_index', 255)
            bad = (seg >= num_classes) & (seg != ignore)
            if bad.any():
                values = sorted(int(v) for v in np.unique(seg[bad]))
                raise ValueError(
                    f'semantic map {path} holds label ids {values[:10]} '
                    f'outside the {num_classes} segmentation classes '
                    f'(0..{num_classes - 1}) and not the ignore index '
                    f'{ignore}')
        results['ignore_index'] = results.get('seg_ignore_index', 255)
