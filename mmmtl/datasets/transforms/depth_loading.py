"""Loading of depth maps stored as 16-bit PNGs, checked, named on error."""
from typing import Optional

import cv2
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmdet.registry import TRANSFORMS
from mmengine.fileio import get


def _index_homography(matrix: np.ndarray) -> np.ndarray:
    """mmdet's homography (pixel corners at integers, as box coordinates)
    in pixel-centre coordinates, as ``cv2.warpPerspective`` reads it."""
    to_corner = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    return np.linalg.inv(to_corner) @ matrix @ to_corner


@TRANSFORMS.register_module()
class LoadDepthAnnotation(BaseTransform):
    """Load ``results['depth_map_path']`` into ``gt_depth_map`` (float32,
    metres; 0 where the depth is unknown).

    The file is a single-channel 16-bit PNG holding ``depth_scale`` per
    metre (1000: millimetres, as the synthetic data and e.g. NYUv2 / KITTI
    style exports store it); 0 means "no depth" and stays 0, which the
    depth task and metric leave out. An image without a depth map
    (``depth_map_path`` None) is left unlabelled for depth.

    With ``align_with_image`` (training) the map follows the geometric
    transforms applied to the image before this step (mmdet's Resize,
    RandomFlip, RandomCrop... record them in ``homography_matrix``): it is
    warped the same way, nearest-neighbour so that no depth is blended
    across an object's edge, to the image's current size. Without it the
    map keeps the file's size, for evaluation against predictions resized
    back to the original image (as test pipelines load seg maps after
    ``Resize``).

    Raises an error naming the file when it is missing, can't be decoded,
    is not a single-channel 16-bit image, or is not of the image's
    original size.

    Args:
        depth_scale (float): PNG value per metre. Default 1000.
        align_with_image (bool): Warp with the image's recorded geometric
            transforms. Default True.
        backend_args (dict, optional): File backend arguments.
    """

    def __init__(self, depth_scale: float = 1000.0,
                 align_with_image: bool = True,
                 backend_args: Optional[dict] = None) -> None:
        if not depth_scale > 0:
            raise ValueError(f'LoadDepthAnnotation: depth_scale must be > 0, '
                             f'got {depth_scale}')
        self.depth_scale = float(depth_scale)
        self.align_with_image = align_with_image
        self.backend_args = backend_args

    def _read(self, path: str, img_path) -> np.ndarray:
        try:
            data = get(path, backend_args=self.backend_args)
        except FileNotFoundError as e:
            raise FileNotFoundError(f'depth map not found: {path} (for image '
                                    f'{img_path})') from e
        depth = mmcv.imfrombytes(data, flag='unchanged', backend='cv2')
        if depth is None:
            raise ValueError(f'depth map {path} could not be decoded '
                             f'(truncated or not an image file; for image '
                             f'{img_path})')
        if depth.dtype != np.uint16 or depth.ndim != 2:
            raise ValueError(
                f'depth map {path} must be a single-channel 16-bit PNG, got '
                f'{depth.dtype} of shape {depth.shape}')
        return depth

    def _check_size(self, depth: np.ndarray, path: str,
                    results: dict) -> None:
        img_hw = tuple(results['ori_shape'][:2])
        if depth.shape != img_hw:
            raise ValueError(
                f'depth map {path} is {depth.shape[0]}x{depth.shape[1]} (HxW) '
                f'but its image {results.get("img_path")} is '
                f'{img_hw[0]}x{img_hw[1]}')

    def _align(self, depth: np.ndarray, results: dict) -> np.ndarray:
        matrix = results.get('homography_matrix')
        h, w = results['img'].shape[:2]
        if matrix is None and depth.shape == (h, w):
            return depth
        matrix = np.eye(3) if matrix is None else matrix
        return cv2.warpPerspective(
            depth, _index_homography(np.asarray(matrix, np.float64)), (w, h),
            flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
            borderValue=0)

    def transform(self, results: dict) -> dict:
        path = results.get('depth_map_path')
        if path is None:
            return results
        depth = self._read(path, results.get('img_path'))
        self._check_size(depth, path, results)
        depth = depth.astype(np.float32) / self.depth_scale
        if self.align_with_image:
            depth = self._align(depth, results)
        results['gt_depth_map'] = depth
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(depth_scale={self.depth_scale}, '
                f'align_with_image={self.align_with_image})')
