"""Helpers shared by the tests: a tiny model config, pipelines, batches."""
import copy
import logging
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

import mmmtl  # noqa: F401  (registers everything)
from mmdet.utils import register_all_modules

from mmmtl.utils.random_batch import random_batch  # noqa: F401 (re-export)

register_all_modules(init_default_scope=True)
DET_CLASSES = ("circle", "square", "triangle", "star")  # noqa
SEG_CLASSES = ("sky", "grass", "water", "road") + DET_CLASSES  # noqa

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_SIZE = (64, 64)


def load_tool(relative_path):
    """Import a script under tools/ (not a package) as a module."""
    import importlib.util
    path = osp.join(REPO, relative_path)
    name = osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_model_cfg(num_det=len(DET_CLASSES), num_seg=len(SEG_CLASSES),
                   det_head='RetinaHead', seg_head='FPNHead'):
    """A small MultiTaskDetector config (8-channel ResNet-18, 16-ch FPN)."""
    ch = 16
    if det_head == 'RetinaHead':
        head = dict(
            type='RetinaHead', num_classes=num_det, in_channels=ch,
            stacked_convs=1, feat_channels=ch,
            anchor_generator=dict(type='AnchorGenerator', octave_base_scale=2,
                                  scales_per_octave=2, ratios=[1.0],
                                  strides=[8, 16, 32, 64]),
            bbox_coder=dict(type='DeltaXYWHBBoxCoder',
                            target_means=[.0] * 4, target_stds=[1.0] * 4),
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0,
                          alpha=0.25, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0))
        train_cfg = dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5,
                          neg_iou_thr=0.4, min_pos_iou=0, ignore_iof_thr=-1),
            sampler=dict(type='PseudoSampler'), allowed_border=-1,
            pos_weight=-1, debug=False)
    elif det_head == 'FCOSHead':
        head = dict(
            type='FCOSHead', num_classes=num_det, in_channels=ch,
            stacked_convs=1, feat_channels=ch, strides=[8, 16, 32, 64],
            regress_ranges=((-1, 16), (16, 32), (32, 64), (64, 1e8)),
            norm_cfg=dict(type='GN', num_groups=4, requires_grad=True),
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0,
                          alpha=0.25, loss_weight=1.0),
            loss_bbox=dict(type='IoULoss', loss_weight=1.0),
            loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True,
                                 loss_weight=1.0))
        train_cfg = dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5,
                                       neg_iou_thr=0.4, min_pos_iou=0,
                                       ignore_iof_thr=-1),
                         allowed_border=-1, pos_weight=-1, debug=False)
    else:
        raise ValueError(det_head)
    if seg_head == 'FPNHead':
        seg = dict(type='FPNHead', in_channels=[ch] * 3, in_index=[0, 1, 2],
                   feature_strides=[8, 16, 32], channels=ch,
                   dropout_ratio=0.0, num_classes=num_seg,
                   norm_cfg=dict(type='GN', num_groups=4, requires_grad=True),
                   align_corners=False,
                   loss_decode=dict(type='CrossEntropyLoss',
                                    use_sigmoid=False, loss_weight=1.0))
    elif seg_head == 'UPerHead':
        seg = dict(type='UPerHead', in_channels=[ch] * 4,
                   in_index=[0, 1, 2, 3], pool_scales=(1, 2), channels=ch,
                   dropout_ratio=0.0, num_classes=num_seg,
                   norm_cfg=dict(type='GN', num_groups=4, requires_grad=True),
                   align_corners=False,
                   loss_decode=dict(type='CrossEntropyLoss',
                                    use_sigmoid=False, loss_weight=1.0))
    else:
        raise ValueError(seg_head)
    return dict(
        type='MultiTaskDetector',
        data_preprocessor=dict(
            type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=32),
        backbone=dict(type='ResNet', depth=18, base_channels=8,
                      stem_channels=8, out_indices=(0, 1, 2, 3),
                      norm_cfg=dict(type='GN', num_groups=4,
                                    requires_grad=True),
                      style='pytorch'),
        neck=dict(type='FPN', in_channels=[8, 16, 32, 64], out_channels=ch,
                  start_level=1, add_extra_convs='on_input', num_outs=4),
        tasks=dict(
            det=dict(type='DetectionTask', head=head, train_cfg=train_cfg,
                     test_cfg=dict(nms_pre=100, min_bbox_size=0,
                                   score_thr=0.05,
                                   nms=dict(type='nms', iou_threshold=0.5),
                                   max_per_img=50)),
            seg=dict(type='SemanticSegmentationTask', head=seg)))


def train_pipeline():
    return [
        dict(type='LoadImageFromFile'),
        dict(type='LoadMultiTaskAnnotations', with_bbox=True, with_seg=True),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackMultiTaskInputs'),
    ]


def val_pipeline():
    return [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=TINY_SIZE, keep_ratio=True),
        dict(type='LoadMultiTaskAnnotations', with_bbox=True, with_seg=True),
        dict(type='PackMultiTaskInputs'),
    ]


def dataset_cfg(root, split, pipeline=None, **kwargs):
    return dict(
        type='SyntheticMultiTaskDataset', data_root=root,
        ann_file=f'annotations/instances_{split}.json',
        data_prefix=dict(img=f'images/{split}/', seg=f'seg_maps/{split}/'),
        pipeline=pipeline if pipeline is not None else
        (train_pipeline() if split == 'train' else val_pipeline()),
        test_mode=split != 'train', **kwargs)


def without_seg_labels(batch, samples=None):
    """A copy of ``batch`` without the seg labels of the samples at
    ``samples`` (all if None): partial labels, those images carry boxes
    only."""
    batch = copy.deepcopy(batch)
    data_samples = batch['data_samples']
    for i in (range(len(data_samples)) if samples is None else samples):
        del data_samples[i].gt_sem_seg
    return batch


class _Messages(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.INFO)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def captured_log(monkeypatch):
    """The messages logged through any of mmengine's loggers (what
    ``print_log(..., logger='current')`` writes to the log file, also after
    a Runner made its own logger the current one) from now on: a list that
    fills as they come, until the test ends."""
    handler = _Messages()
    call_handlers = MMLogger.callHandlers

    def call_with_capture(logger, record):
        if record.levelno >= handler.level:
            handler.handle(record)
        call_handlers(logger, record)

    monkeypatch.setattr(MMLogger, 'callHandlers', call_with_capture)
    return handler.messages


def batch_from(dataset, indices):
    """A collated batch (as the dataloader gives it) of dataset items."""
    from mmengine.dataset import pseudo_collate
    return pseudo_collate([dataset[i] for i in indices])


def runner_cfg(root, work_dir, max_iters=30, balancer='EqualWeighting',
               **wrapper):
    val_ann = osp.join(root, 'annotations/instances_val.json')
    return Config(dict(
        default_scope='mmdet',
        model=tiny_model_cfg(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            batch_size=4, num_workers=0,
            sampler=dict(type='InfiniteSampler', shuffle=True),
            dataset=dataset_cfg(root, 'train')),
        val_dataloader=dict(
            batch_size=4, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dataset_cfg(root, 'val')),
        val_evaluator=[dict(type='CocoMetric', ann_file=val_ann,
                            metric='bbox'),
                       dict(type='SegIoUMetric', iou_metrics=['mIoU'])],
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters,
                       val_interval=max_iters),
        val_cfg=dict(type='ValLoop'),
        optim_wrapper=dict(
            type='MultiTaskOptimWrapper',
            constructor='MultiTaskOptimWrapperConstructor',
            optimizer=dict(type='AdamW', lr=3e-3, weight_decay=1e-4),
            balancer=dict(type=balancer), **wrapper),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=5),
            checkpoint=dict(type='CheckpointHook', interval=max_iters // 2,
                            by_epoch=False)),
        log_processor=dict(by_epoch=False, window_size=1),
        visualizer=dict(type='MultiTaskVisualizer'),
        randomness=dict(seed=0),
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        log_level='WARNING',
    ))


torch.set_num_threads(2)


def balancing_wrapper(model, balancer='EqualWeighting', lr=0.01):
    """A MultiTaskOptimWrapper (SGD) of ``model`` with ``balancer``."""
    from mmengine.optim import build_optim_wrapper
    return build_optim_wrapper(model, dict(
        type='MultiTaskOptimWrapper',
        constructor='MultiTaskOptimWrapperConstructor',
        optimizer=dict(type='SGD', lr=lr), balancer=dict(type=balancer)))
