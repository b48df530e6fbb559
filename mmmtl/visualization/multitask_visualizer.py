"""Draw boxes and the semantic map, each with its own classes and palette."""
from typing import List, Optional

import numpy as np
from mmdet.registry import VISUALIZERS
from mmdet.visualization import DetLocalVisualizer
from mmengine.structures import PixelData


@VISUALIZERS.register_module()
class MultiTaskVisualizer(DetLocalVisualizer):
    """``DetLocalVisualizer`` that draws semantic maps with the dataset's
    ``seg_classes`` and ``seg_palette`` instead of the detection ones.

    Without a ``seg_palette`` a fixed palette is made from the class count.
    """

    def _seg_meta(self):
        meta = self.dataset_meta or {}
        classes = meta.get('seg_classes')
        palette = meta.get('seg_palette')
        if classes is not None and palette is None:
            rng = np.random.RandomState(42)
            palette = [tuple(int(c) for c in rng.randint(0, 256, 3))
                       for _ in classes]
        return classes, palette

    def _draw_sem_seg(self, image: np.ndarray, sem_seg: PixelData,
                      classes: Optional[List], palette: Optional[List]) -> np.ndarray:
        seg_classes, seg_palette = self._seg_meta()
        if seg_classes is not None:
            classes, palette = seg_classes, seg_palette
        return super()._draw_sem_seg(image, sem_seg, classes, palette)
