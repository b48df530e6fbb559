# mmdet's Faster R-CNN (ResNet-50 with ImageNet weights + FPN) as a
# multi-task model: its RPN and RoI heads are the detection task
# (TwoStageDetectionTask); a Semantic-FPN head (segmentation, built in
# mmseg's scope) is a second task on the same FPN. Inherited as in
# retinanet_r50_fpn_semfpn.py: `_base_.model` is mmdet's model, replaced
# here and taken apart by name.
# The FPN starts at stride 4: its 5 outputs have strides 4, 8, 16, 32, 64;
# the seg head reads the first four (mmseg's Semantic FPN).
_base_ = 'mmdet::_base_/models/faster-rcnn_r50_fpn.py'

num_seg_classes = 19

model = dict(
    _delete_=True,
    type='MultiTaskDetector',
    data_preprocessor=_base_.model.data_preprocessor,
    backbone=_base_.model.backbone,
    neck=_base_.model.neck,
    tasks=dict(
        det=dict(
            type='TwoStageDetectionTask',
            rpn_head=_base_.model.rpn_head,
            roi_head=_base_.model.roi_head,
            train_cfg=_base_.model.train_cfg,
            test_cfg=_base_.model.test_cfg),
        seg=dict(
            type='SemanticSegmentationTask',
            head=dict(
                type='FPNHead',
                in_channels=[256] * 4,
                in_index=[0, 1, 2, 3],
                feature_strides=[4, 8, 16, 32],
                channels=128,
                dropout_ratio=0.1,
                num_classes=num_seg_classes,
                norm_cfg=dict(type='BN', requires_grad=True),
                align_corners=False,
                loss_decode=dict(
                    type='CrossEntropyLoss', use_sigmoid=False,
                    loss_weight=1.0)))))
