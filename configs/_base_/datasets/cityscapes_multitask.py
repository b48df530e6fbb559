# Cityscapes: 8 instance classes (boxes from gtFine) + 19-class labelTrainIds,
# same frames — produced by tools/dataset_converters (cityscapes.py); see its
# README. The layout is multitask_coco.py's; Cityscapes' scale here.
_base_ = './multitask_coco.py'

data_root = 'data/cityscapes/'
img_scale = (2048, 1024)
crop_size = (1024, 512)  # (width, height): 512x1024 crops, as mmseg's

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
        data_prefix=dict(img='leftImg8bit/train/', seg='gtFine/train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        data_prefix=dict(img='leftImg8bit/val/', seg='gtFine/val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val.json', metric='bbox'),
    dict(type='SegIoUMetric', iou_metrics=['mIoU']),
]
test_evaluator = val_evaluator
