# mmdet's RetinaNet (ResNet-50 with ImageNet weights + FPN) as a multi-task
# model: its head is the detection task; a Semantic-FPN head (segmentation,
# built in mmseg's scope) is a second task on the same FPN.
# The FPN starts at stride 8 (start_level=1): its 5 outputs have strides
# 8, 16, 32, 64, 128; the seg head reads the first four.
#
# How the mmdet parts are inherited (the pattern of the model bases here):
# mmdet's model base is this file's `_base_`, and `_base_.model` is its model
# config, readable as a Python value in the file. The model below replaces
# it (`_delete_=True`: a MultiTaskDetector has `tasks`, not `bbox_head`) and
# takes its parts by name: data preprocessor, backbone and neck, the head as
# the `det` task's head, the train/test settings as that task's. A config
# inheriting this one overrides them where they now live, e.g.
# model.tasks.det.head.num_classes.
# (The seg head is written out: mmseg's FPN base is an EncoderDecoder
# `model` too, and mmengine allows one `model` among a file's bases.)
_base_ = 'mmdet::_base_/models/retinanet_r50_fpn.py'

num_det_classes = 80
num_seg_classes = 19
fpn_channels = 256

model = dict(
    _delete_=True,
    type='MultiTaskDetector',
    data_preprocessor=_base_.model.data_preprocessor,
    backbone=_base_.model.backbone,
    neck=dict(_base_.model.neck, out_channels=fpn_channels),
    tasks=dict(
        det=dict(
            type='DetectionTask',
            head=dict(_base_.model.bbox_head, num_classes=num_det_classes,
                      in_channels=fpn_channels, feat_channels=fpn_channels),
            train_cfg=_base_.model.train_cfg,
            test_cfg=_base_.model.test_cfg),
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
