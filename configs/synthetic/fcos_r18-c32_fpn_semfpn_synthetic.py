# FCOS + Semantic FPN: the demo (retinanet_r18-c32_fpn_semfpn_synthetic.py)
# with mmdet's anchor-free FCOS head (GN, as fcos_*_gn-head_* in mmdet) in
# place of RetinaNet's on the same shared ResNet-18 + FPN; the seg task, the
# test settings, data and schedule are the demo's. mmdet has no FCOS model
# base to inherit: the head is written out here, as in mmdet's FCOS configs,
# with RetinaNet's focal loss taken from the demo.
#   python tools/train.py configs/synthetic/fcos_r18-c32_fpn_semfpn_synthetic.py
_base_ = './retinanet_r18-c32_fpn_semfpn_synthetic.py'

retinanet_head = _base_.model.tasks.det.head
model = dict(
    tasks=dict(
        det=dict(
            head=dict(
                _delete_=True,
                type='FCOSHead',
                num_classes=retinanet_head.num_classes,
                in_channels=retinanet_head.in_channels,
                stacked_convs=retinanet_head.stacked_convs,
                feat_channels=retinanet_head.feat_channels,
                strides=[8, 16, 32, 64, 128],
                # objects are 10-64 px: mmdet's ranges (-1, 64, 128, 256,
                # 512) scaled by 1/4
                regress_ranges=((-1, 16), (16, 32), (32, 64), (64, 128),
                                (128, 1e8)),
                loss_cls=retinanet_head.loss_cls,
                loss_bbox=dict(type='IoULoss', loss_weight=1.0),
                loss_centerness=dict(
                    type='CrossEntropyLoss', use_sigmoid=True,
                    loss_weight=1.0)),
            # FCOS assigns locations to boxes by its regress ranges
            train_cfg=None)))
del retinanet_head
