"""Draw the semantic map under the boxes, each with its own classes and
palette, and a depth map below."""
from typing import List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
import torch
from mmdet.registry import VISUALIZERS
from mmdet.structures.bbox import BaseBoxes
from mmdet.visualization import DetLocalVisualizer
from mmengine.structures import InstanceData, PixelData


def fixed_palette(num_classes: int, seed: int = 42) -> List[tuple]:
    """``num_classes`` distinct-looking colours, the same on every call."""
    rng = np.random.RandomState(seed)
    return [tuple(int(c) for c in rng.randint(0, 256, 3))
            for _ in range(num_classes)]


def text_color_on(background: Sequence[int]) -> tuple:
    """Black or white, whichever reads better on ``background`` (RGB)."""
    r, g, b = (int(c) for c in background[:3])
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 150 \
        else (255, 255, 255)


@VISUALIZERS.register_module()
class MultiTaskVisualizer(DetLocalVisualizer):
    """``DetLocalVisualizer`` for a detector that also segments.

    * The semantic map is drawn first, as a translucent overlay (``alpha``)
      named with the dataset's ``seg_classes`` and ``seg_palette``; boxes
      and their labels (``classes``, ``palette``) are drawn on top, opaque,
      so the overlay never washes them out.
    * Sizes follow the image: line widths and fonts grow with it, and an
      image smaller than ``min_render_size`` pixels (long side) is drawn
      enlarged by an integer factor (nearest neighbour) so that a 128 px
      image still gets readable labels; a 2048 px one gets labels that are
      not specks.
    * A segment is named at the centre of its largest piece when that
      piece covers at least ``seg_label_min_area`` of the image.
    * A depth map (``gt_depth_map``, ``pred_depth_map``) is drawn below
      its panel in the inferno colour map (near: dark, far: bright), the
      ground truth and the prediction on one scale (the range of the
      known depths of both), pixels of unknown depth (0) black.

    Without a ``seg_palette`` (or ``palette``) a fixed palette is made from
    the class count.

    Args:
        min_render_size (int): Images whose long side is smaller are drawn
            enlarged. 0 draws at the image's size. Default 512.
        seg_label_min_area (float): Smallest segment (fraction of the
            image) that gets a name. Default 0.02.
        **kwargs: As :class:`DetLocalVisualizer` (``alpha`` is the overlay's
            opacity).
    """

    def __init__(self, name: str = 'visualizer', *args,
                 min_render_size: int = 512,
                 seg_label_min_area: float = 0.02, **kwargs) -> None:
        super().__init__(name, *args, **kwargs)
        self.min_render_size = min_render_size
        self.seg_label_min_area = seg_label_min_area

    # -- metadata --------------------------------------------------------

    def _classes_and_palette(self, classes_key: str, palette_key: str,
                             num_labels: int):
        meta = self.dataset_meta or {}
        classes = meta.get(classes_key)
        palette = meta.get(palette_key)
        count = max(len(classes) if classes is not None else 0, num_labels)
        if not isinstance(palette, (list, tuple)) or len(palette) < count:
            palette = fixed_palette(count)
        return classes, [tuple(int(v) for v in c) for c in palette]

    # -- sizes -----------------------------------------------------------

    def render_scale(self, image: np.ndarray) -> int:
        """The integer factor the image is enlarged by when drawn."""
        long_side = max(image.shape[:2])
        if self.min_render_size <= 0 or long_side >= self.min_render_size:
            return 1
        return int(np.ceil(self.min_render_size / long_side))

    @staticmethod
    def _font_size(canvas: np.ndarray) -> float:
        # matplotlib points (1.4 px at mmengine's 100 dpi): about 2% of the
        # long side, never below 10 pt
        return max(10.0, max(canvas.shape[:2]) / 75)

    @staticmethod
    def _line_width(canvas: np.ndarray) -> float:
        return max(2.0, max(canvas.shape[:2]) / 300)

    # -- drawing ---------------------------------------------------------

    def _draw_sem_seg(self, image: np.ndarray, sem_seg: PixelData,
                      classes: Optional[List] = None,
                      palette: Optional[List] = None) -> np.ndarray:
        """Blend the label map over ``image`` and name the large segments
        (the detection ``classes``/``palette`` arguments are ignored)."""
        seg = sem_seg.sem_seg
        seg = seg.cpu().numpy() if isinstance(seg, torch.Tensor) else seg
        seg = np.asarray(seg)[0] if seg.ndim == 3 else np.asarray(seg)
        if seg.shape != image.shape[:2]:
            seg = cv2.resize(seg.astype(np.int32), image.shape[1::-1],
                             interpolation=cv2.INTER_NEAREST)
        ignore = sem_seg.metainfo.get('ignore_index', 255)
        ids = [int(i) for i in np.unique(seg) if i != ignore]
        seg_classes, seg_palette = self._classes_and_palette(
            'seg_classes', 'seg_palette', max(ids, default=-1) + 1)
        colors = np.zeros((len(seg_palette) + 1, 3), np.float32)
        colors[:-1] = seg_palette
        index = np.where(seg == ignore, len(seg_palette), seg)
        overlay = colors[index]
        blend = np.where((seg != ignore)[..., None],
                         image * (1 - self.alpha) + overlay * self.alpha,
                         image)
        self.set_image(blend.clip(0, 255).astype(np.uint8))
        self._name_segments(seg, ids, seg_classes)
        return self.get_image()

    def _name_segments(self, seg: np.ndarray, ids: List[int],
                       seg_classes: Optional[Sequence[str]]) -> None:
        min_area = self.seg_label_min_area * seg.size
        font = self._font_size(seg) * 0.9
        for label in ids:
            count, _, stats, centroids = cv2.connectedComponentsWithStats(
                (seg == label).astype(np.uint8), connectivity=8)
            if count < 2:
                continue
            largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
            if stats[largest, cv2.CC_STAT_AREA] < min_area:
                continue
            name = seg_classes[label] if seg_classes is not None \
                and label < len(seg_classes) else f'seg {label}'
            self.draw_texts(
                name, centroids[largest][None], font_sizes=font,
                colors=(255, 255, 255), horizontal_alignments='center',
                vertical_alignments='center',
                bboxes=dict(facecolor='black', alpha=0.55, pad=0.3,
                            edgecolor='none'))

    def _draw_instances(self, image: np.ndarray, instances: InstanceData,
                        classes: Optional[List] = None,
                        palette: Optional[List] = None) -> np.ndarray:
        """Opaque boxes with a label tag (class name and score) on each."""
        self.set_image(image)
        if 'bboxes' not in instances or len(instances) == 0:
            return self.get_image()
        bboxes = instances.bboxes
        bboxes = bboxes.tensor if isinstance(bboxes, BaseBoxes) else bboxes
        bboxes = torch.as_tensor(bboxes).float().cpu()
        labels = [int(v) for v in instances.labels]
        classes, palette = self._classes_and_palette(
            'classes', 'palette', max(labels) + 1)
        colors = [palette[label] for label in labels]
        self.draw_bboxes(bboxes, edge_colors=colors, alpha=1.0,
                         line_widths=self._line_width(image))
        self._draw_box_tags(image, bboxes, labels, classes, colors,
                            instances.get('scores'))
        return self.get_image()

    def _draw_box_tags(self, image: np.ndarray, bboxes: torch.Tensor,
                       labels: List[int], classes: Optional[Sequence[str]],
                       colors: List[tuple], scores) -> None:
        font = self._font_size(image)
        tag_height = font * self.dpi / 72 * 1.4   # pixels, with padding
        for i, (box, label) in enumerate(zip(bboxes.tolist(), labels)):
            text = classes[label] if classes is not None \
                and label < len(classes) else f'class {label}'
            if scores is not None:
                text += f' {float(scores[i]):.2f}'
            above = box[1] >= tag_height      # room above the box
            self.draw_texts(
                text, np.array([[box[0], box[1]]]), font_sizes=font,
                colors=text_color_on(colors[i]),
                vertical_alignments='bottom' if above else 'top',
                bboxes=dict(facecolor=np.array(colors[i]) / 255, alpha=0.9,
                            pad=0.2, edgecolor='none'))

    def _draw_prediction_or_gt(self, image: np.ndarray, sample,
                               prefix: str, score_thr: float) -> np.ndarray:
        """Overlay first, then boxes, at the render scale."""
        scale = self.render_scale(image)
        if scale > 1:
            image = cv2.resize(image, None, fx=scale, fy=scale,
                               interpolation=cv2.INTER_NEAREST)
        if f'{prefix}_sem_seg' in sample:
            image = self._draw_sem_seg(image, sample.get(f'{prefix}_sem_seg'))
        if f'{prefix}_instances' in sample:
            instances = sample.get(f'{prefix}_instances')
            if 'scores' in instances:
                instances = instances[instances.scores > score_thr]
            if scale > 1 and 'bboxes' in instances:
                instances = instances.clone()
                boxes = instances.bboxes
                instances.bboxes = boxes.tensor * scale \
                    if isinstance(boxes, BaseBoxes) else boxes * scale
            image = self._draw_instances(image, instances)
        return image

    @staticmethod
    def _depth_range(sample) -> Optional[Tuple[float, float]]:
        """The known depths' (> 0, finite) range over both maps."""
        known = []
        for prefix in ('gt', 'pred'):
            if f'{prefix}_depth_map' in sample:
                depth = depth_array(sample.get(f'{prefix}_depth_map'))
                known.append(depth[np.isfinite(depth) & (depth > 0)])
        known = np.concatenate(known) if known else np.zeros(0)
        if not known.size:
            return None
        return float(known.min()), float(known.max())

    @staticmethod
    def _draw_depth(depth: np.ndarray, depth_range: Tuple[float, float],
                    size: Tuple[int, int]) -> np.ndarray:
        """``depth`` coloured on ``depth_range`` (RGB), at ``size`` (w, h)."""
        lo, hi = depth_range
        known = np.isfinite(depth) & (depth > 0)
        scaled = np.clip((depth - lo) / max(hi - lo, 1e-12), 0, 1)
        scaled = np.where(known, scaled, 0)
        colored = cv2.applyColorMap((scaled * 255).astype(np.uint8),
                                    cv2.COLORMAP_INFERNO)[..., ::-1]
        colored = np.where(known[..., None], colored, 0).astype(np.uint8)
        return cv2.resize(colored, size, interpolation=cv2.INTER_NEAREST)

    def add_datasample(self, name: str, image: np.ndarray,
                       data_sample=None, draw_gt: bool = True,
                       draw_pred: bool = True, show: bool = False,
                       wait_time: float = 0, out_file: Optional[str] = None,
                       pred_score_thr: float = 0.3, step: int = 0) -> None:
        """As :meth:`DetLocalVisualizer.add_datasample` (ground truth left,
        prediction right), drawn overlay first and boxes on top."""
        image = image.clip(0, 255).astype(np.uint8)
        panels = []
        if data_sample is not None:
            data_sample = data_sample.cpu()
            depth_range = self._depth_range(data_sample)
            for prefix, wanted in (('gt', draw_gt), ('pred', draw_pred)):
                if not wanted:
                    continue
                panel = self._draw_prediction_or_gt(
                    image, data_sample, prefix, pred_score_thr)
                key = f'{prefix}_depth_map'
                if key in data_sample and depth_range is not None:
                    depth = self._draw_depth(
                        depth_array(data_sample.get(key)), depth_range,
                        panel.shape[1::-1])
                    panel = np.concatenate([panel, depth], axis=0)
                panels.append(panel)
        drawn = side_by_side(panels) if panels else image
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(drawn[..., ::-1], out_file)
        else:
            self.add_image(name, drawn, step)


def depth_array(depth_map: PixelData) -> np.ndarray:
    """The (H, W) float depth of a ``*_depth_map`` ``PixelData``."""
    data = depth_map.data
    data = data.cpu().numpy() if isinstance(data, torch.Tensor) else data
    data = np.asarray(data, dtype=np.float32)
    return data[0] if data.ndim == 3 else data


def side_by_side(panels: List[np.ndarray]) -> np.ndarray:
    """Panels left to right, the shorter ones padded black at the bottom
    (a panel with a depth map below is taller)."""
    height = max(p.shape[0] for p in panels)
    return np.concatenate(
        [np.pad(p, ((0, height - p.shape[0]), (0, 0), (0, 0)))
         for p in panels], axis=1)
