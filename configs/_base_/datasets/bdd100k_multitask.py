# BDD100K: 10-class detection + drivable area (direct, alternative,
# background); frames without a mask train detection only — produced by
# tools/dataset_converters (bdd100k.py); see its README. The layout is
# multitask_coco.py's; BDD100K's frame size (1280x720) as the scale here.
_base_ = './multitask_coco.py'

data_root = 'data/bdd100k/'
img_scale = (1280, 720)
crop_size = (640, 640)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations', with_bbox=True, with_seg=True),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.5, 2.0),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, allow_negative_crop=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackMultiTaskInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadMultiTaskAnnotations', with_bbox=True, with_seg=True),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        data_prefix=dict(img='images/100k/train/',
                         seg='labels/drivable/masks/train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        data_prefix=dict(img='images/100k/val/',
                         seg='labels/drivable/masks/val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val.json', metric='bbox'),
    dict(type='SegIoUMetric', iou_metrics=['mIoU']),
]
test_evaluator = val_evaluator
