# Demo: RetinaNet + Semantic FPN on one ResNet-18 (32 base channels) trained
# from scratch on the built-in synthetic scenes (128x128); trains on a 2-core
# CPU in about 10 minutes and evaluates bbox mAP and mIoU.
#   python tools/train.py configs/synthetic/retinanet_r18-c32_fpn_semfpn_synthetic.py
_base_ = [
    '../_base_/models/retinanet_r18_fpn_semfpn.py',
    '../_base_/datasets/synthetic_multitask.py',
    '../_base_/schedules/adamw_iter.py',
    '../_base_/default_runtime.py',
]

fpn_channels = 64
model = dict(
    backbone=dict(base_channels=32, stem_channels=32),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=fpn_channels),
    tasks=dict(
        det=dict(
            head=dict(
                num_classes=4,
                in_channels=fpn_channels,
                feat_channels=fpn_channels,
                stacked_convs=2,
                # objects are 10-64 px: anchors from 16 px at stride 8
                anchor_generator=dict(octave_base_scale=2))),
        seg=dict(
            head=dict(
                in_channels=[fpn_channels] * 4,
                channels=64,
                num_classes=8))))

# reproducible runs
randomness = dict(seed=0)
