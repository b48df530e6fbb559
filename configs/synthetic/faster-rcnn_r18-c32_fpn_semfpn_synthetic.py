# Faster R-CNN + Semantic FPN on one ResNet-18 (32 base channels) + FPN
# trained from scratch on the built-in synthetic scenes (128x128): the
# two-stage counterpart of the demo (retinanet_r18-c32_fpn_semfpn_synthetic.py),
# with its data, schedule and seed.
#   python tools/train.py configs/synthetic/faster-rcnn_r18-c32_fpn_semfpn_synthetic.py
_base_ = [
    '../_base_/models/faster-rcnn_r50_fpn_semfpn.py',
    '../_base_/datasets/synthetic_multitask.py',
    '../_base_/schedules/adamw_iter.py',
    '../_base_/default_runtime.py',
]

# from scratch: mmdet's ImageNet init_cfg dropped (from the base, so that a
# config may still set one)
_base_.model.backbone.pop('init_cfg')
fpn_channels = 64
model = dict(
    backbone=dict(depth=18, base_channels=32, stem_channels=32,
                  frozen_stages=-1, norm_eval=False),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=fpn_channels),
    tasks=dict(
        det=dict(
            rpn_head=dict(
                in_channels=fpn_channels,
                feat_channels=fpn_channels,
                # objects are 10-64 px: anchors from 16 px at stride 4
                anchor_generator=dict(scales=[4])),
            roi_head=dict(
                bbox_roi_extractor=dict(out_channels=fpn_channels),
                bbox_head=dict(in_channels=fpn_channels, fc_out_channels=256,
                               num_classes=4)),
            # 128x128 scenes of a few objects: mmdet's numbers of proposals
            # and RoIs (for 1333x800 COCO images) cut down
            train_cfg=dict(
                rpn_proposal=dict(nms_pre=1000, max_per_img=300),
                rcnn=dict(sampler=dict(num=64))),
            test_cfg=dict(rpn=dict(max_per_img=300))),
        seg=dict(
            head=dict(
                in_channels=[fpn_channels] * 4,
                channels=64,
                num_classes=8))))

# reproducible runs
randomness = dict(seed=0)
