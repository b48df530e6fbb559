# Mask R-CNN + Semantic FPN on the synthetic scenes: the Faster R-CNN config
# (faster-rcnn_r18-c32_fpn_semfpn_synthetic.py) plus mmdet's Mask R-CNN mask
# branch (as mmdet's mask-rcnn_r50_fpn.py adds it to Faster R-CNN), trained
# on the scenes' instance masks and evaluated for bbox and segm mAP beside
# mIoU.
#   python tools/train.py configs/synthetic/mask-rcnn_r18-c32_fpn_semfpn_synthetic.py
_base_ = './faster-rcnn_r18-c32_fpn_semfpn_synthetic.py'

roi_head = _base_.model.tasks.det.roi_head
model = dict(
    data_preprocessor=dict(pad_mask=True),
    tasks=dict(
        det=dict(
            roi_head=dict(
                mask_roi_extractor=dict(
                    roi_head.bbox_roi_extractor,
                    roi_layer=dict(type='RoIAlign', output_size=14,
                                   sampling_ratio=0)),
                mask_head=dict(
                    type='FCNMaskHead',
                    num_convs=2,
                    in_channels=roi_head.bbox_roi_extractor.out_channels,
                    conv_out_channels=roi_head.bbox_roi_extractor.out_channels,
                    num_classes=roi_head.bbox_head.num_classes,
                    loss_mask=dict(
                        type='CrossEntropyLoss', use_mask=True,
                        loss_weight=1.0))),
            train_cfg=dict(
                rcnn=dict(assigner=dict(match_low_quality=True),
                          mask_size=28)),
            test_cfg=dict(rcnn=dict(mask_thr_binary=0.5)))))
del roi_head

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations', with_bbox=True, with_mask=True,
         with_seg=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_evaluator = [
    dict(type='CocoMetric',
         ann_file=_base_.data_root + 'annotations/instances_val.json',
         metric=['bbox', 'segm']),
    dict(type='SegIoUMetric', iou_metrics=['mIoU']),
]
test_evaluator = val_evaluator
