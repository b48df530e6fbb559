"""A collated training batch made in memory, for benchmarks and tests."""
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.structures import InstanceData, PixelData


def random_batch(n: int = 3, size=(64, 64), seed: int = 0, num_det: int = 4,
                 num_seg: int = 8) -> dict:
    """A collated batch made in memory: images, 1-3 boxes, a seg map each.

    The seg map paints each box's area with its class (stuff elsewhere), so
    the two tasks are related, as in real scenes.
    """
    g = torch.Generator().manual_seed(seed)
    h, w = size
    inputs, samples = [], []
    for _ in range(n):
        img = torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8)
        seg = torch.randint(0, num_seg - num_det, (1, 1), generator=g).item()
        seg = torch.full((1, h, w), seg, dtype=torch.uint8)
        k = int(torch.randint(1, 4, (1, ), generator=g))
        xy = torch.rand(k, 2, generator=g) * torch.tensor([w * 0.6, h * 0.6])
        wh = 8 + torch.rand(k, 2, generator=g) * torch.tensor([w, h]) * 0.3
        boxes = torch.cat([xy, xy + wh], 1)
        labels = torch.randint(0, num_det, (k, ), generator=g)
        for box, label in zip(boxes.round().long(), labels):
            x1, y1, x2, y2 = box.tolist()
            seg[:, y1:y2, x1:x2] = num_seg - num_det + int(label)
            img[:, y1:y2, x1:x2] = (40 * (int(label) + 1)) % 256
        s = DetDataSample(metainfo=dict(
            img_shape=size, ori_shape=size, scale_factor=(1.0, 1.0),
            pad_shape=size))
        s.gt_instances = InstanceData(bboxes=HorizontalBoxes(boxes),
                                      labels=labels)
        s.gt_sem_seg = PixelData(sem_seg=seg)
        inputs.append(img)
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)
