"""Loading of multi-task annotations, with checks that name the bad file."""
import numpy as np
from mmdet.datasets.transforms import LoadAnnotations
from mmdet.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadMultiTaskAnnotations(LoadAnnotations):
    """mmdet's ``LoadAnnotations`` with ``with_seg=True`` and checked seg maps.

    Beyond loading boxes (and masks, if asked) it checks each semantic map
    against its image and the dataset's segmentation classes and raises an
    error naming the file when:

    * the map file does not exist;
    * its height and width differ from the image's;
    * it holds a label id outside ``0 .. num_seg_classes-1`` that is not the
      ignore index.

    Images without a semantic map (``seg_map_path`` is None) load as
    detection-only samples.
    """

    def __init__(self, with_seg: bool = True, **kwargs) -> None:
        super().__init__(with_seg=with_seg, **kwargs)

    def _load_seg_map(self, results: dict) -> None:
        path = results.get('seg_map_path', None)
        if path is None:
            return
        try:
            super()._load_seg_map(results)
        except FileNotFoundError as e:
            raise FileNotFoundError(
                f'semantic map not found: {path} (for image '
                f'{results.get("img_path")})') from e
        seg = results['gt_seg_map']
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
