# RetinaNet + Semantic FPN on a narrow ResNet-18 (32 base channels, 64 FPN
# channels), sized for the built-in synthetic scenes: 128x128 images, 4
# object classes, 8 segmentation classes (4 stuff + the 4 objects).
_base_ = './retinanet_r18_fpn_semfpn.py'

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
