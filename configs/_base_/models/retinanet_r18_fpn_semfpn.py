# A shared ResNet-18 + FPN feeding a RetinaNet head (detection) and a
# Semantic-FPN head (segmentation, built in mmseg's scope).
# The FPN starts at stride 8 (start_level=1): its 5 outputs have strides
# 8, 16, 32, 64, 128; the seg head reads the first four.
num_det_classes = 80
num_seg_classes = 19
fpn_channels = 256

model = dict(
    type='MultiTaskDetector',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(
        type='ResNet',
        depth=18,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch'),
    neck=dict(
        type='FPN',
        in_channels=[64, 128, 256, 512],
        out_channels=fpn_channels,
        start_level=1,
        add_extra_convs='on_input',
        num_outs=5),
    tasks=dict(
        det=dict(
            type='DetectionTask',
            head=dict(
                type='RetinaHead',
                num_classes=num_det_classes,
                in_channels=fpn_channels,
                stacked_convs=4,
                feat_channels=fpn_channels,
                anchor_generator=dict(
                    type='AnchorGenerator',
                    octave_base_scale=4,
                    scales_per_octave=3,
                    ratios=[0.5, 1.0, 2.0],
                    strides=[8, 16, 32, 64, 128]),
                bbox_coder=dict(
                    type='DeltaXYWHBBoxCoder',
                    target_means=[.0, .0, .0, .0],
                    target_stds=[1.0, 1.0, 1.0, 1.0]),
                loss_cls=dict(
                    type='FocalLoss',
                    use_sigmoid=True,
                    gamma=2.0,
                    alpha=0.25,
                    loss_weight=1.0),
                loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
            train_cfg=dict(
                assigner=dict(
                    type='MaxIoUAssigner',
                    pos_iou_thr=0.5,
                    neg_iou_thr=0.4,
                    min_pos_iou=0,
                    ignore_iof_thr=-1),
                sampler=dict(type='PseudoSampler'),
                allowed_border=-1,
                pos_weight=-1,
                debug=False),
            test_cfg=dict(
                nms_pre=1000,
                min_bbox_size=0,
                score_thr=0.05,
                nms=dict(type='nms', iou_threshold=0.5),
                max_per_img=100)),
        seg=dict(
            type='SemanticSegmentationTask',
            head=dict(
                type='FPNHead',
                in_channels=[fpn_channels] * 4,
                in_index=[0, 1, 2, 3],
                feature_strides=[8, 16, 32, 64],
                channels=128,
                dropout_ratio=0.1,
                num_classes=num_seg_classes,
                norm_cfg=dict(type='BN', requires_grad=True),
                align_corners=False,
                loss_decode=dict(
                    type='CrossEntropyLoss', use_sigmoid=False,
                    loss_weight=1.0)))))
