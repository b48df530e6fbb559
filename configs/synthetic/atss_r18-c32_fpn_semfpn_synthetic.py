# ATSS + Semantic FPN: the demo (retinanet_r18-c32_fpn_semfpn_synthetic.py)
# with its RetinaNet head turned into mmdet's ATSS (as atss_r50_fpn_1x_coco.py:
# one square anchor per location, adaptive training-sample selection, GIoU
# loss and centerness) on the same shared ResNet-18 + FPN; the seg task, data
# and schedule are the demo's.
#   python tools/train.py configs/synthetic/atss_r18-c32_fpn_semfpn_synthetic.py
_base_ = './retinanet_r18-c32_fpn_semfpn_synthetic.py'

model = dict(
    tasks=dict(
        det=dict(
            head=dict(
                type='ATSSHead',
                anchor_generator=dict(
                    ratios=[1.0],
                    # objects are 10-64 px: anchors of 32 px at stride 8
                    # (mmdet's 8 makes them 64 px)
                    octave_base_scale=4,
                    scales_per_octave=1),
                bbox_coder=dict(target_stds=[0.1, 0.1, 0.2, 0.2]),
                loss_bbox=dict(_delete_=True, type='GIoULoss',
                               loss_weight=2.0),
                loss_centerness=dict(
                    type='CrossEntropyLoss', use_sigmoid=True,
                    loss_weight=1.0)),
            train_cfg=dict(
                assigner=dict(_delete_=True, type='ATSSAssigner', topk=9)),
            test_cfg=dict(nms=dict(iou_threshold=0.6)))))
