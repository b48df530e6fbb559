# The built-in synthetic multi-task dataset (generated on first use):
# 4 object classes for detection; 4 stuff + 4 object classes for segmentation.
dataset_type = 'SyntheticMultiTaskDataset'
data_root = 'data/synthetic/'
img_scale = (128, 128)
synthetic_cfg = dict(num_train=1000, num_val=100, img_size=img_scale, seed=0)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations', with_bbox=True, with_seg=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackMultiTaskInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    # after Resize: ground truth stays at the original size for evaluation
    dict(type='LoadMultiTaskAnnotations', with_bbox=True, with_seg=True),
    dict(type='PackMultiTaskInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        generate=synthetic_cfg,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='images/train/', seg='seg_maps/train/'),
        filter_cfg=dict(filter_empty_gt=False),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        generate=synthetic_cfg,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='images/val/', seg='seg_maps/val/'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# One evaluator for both tasks: COCO bbox mAP and mIoU over the seg classes.
val_evaluator = [
    dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val.json',
         metric='bbox', format_only=False),
    dict(type='SegIoUMetric', iou_metrics=['mIoU']),
]
test_evaluator = val_evaluator
