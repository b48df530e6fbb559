# The layout every real-dataset base here shares: the output of
# tools/dataset_converters (see its README), read by MultiTaskCocoDataset:
#   {data_root}annotations/instances_{train,val}.json: COCO boxes; the
#       detection classes are its categories, the segmentation classes its
#       top-level "seg_classes";
#   one PNG label map per image under the seg prefix; an image without one
#       trains detection only.
# Trained on random resizes (0.5-2x img_scale) and crops (crop_size, which is
# (width, height) in mmdet's RandomCrop), evaluated at img_scale with one
# evaluator: bbox mAP and mIoU over the segmentation classes.
#
# A dataset base inherits this file and sets what is its own:
#   data_root, and the datasets' data_root/data_prefix (ann_file where the
#   converter names it otherwise) in train_dataloader and val_dataloader;
#   val_evaluator, whose CocoMetric reads data_root's val JSON;
#   train_pipeline/test_pipeline where its scales differ from COCO's below:
#   restated and set in the loaders (mmengine evaluates this file before its
#   child, so a child's img_scale alone does not reach them).
dataset_type = 'MultiTaskCocoDataset'
data_root = 'data/coco/'
img_scale = (1333, 800)
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
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_train.json',
        filter_cfg=dict(filter_empty_gt=False),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_val.json',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val.json', metric='bbox'),
    dict(type='SegIoUMetric', iou_metrics=['mIoU']),
]
test_evaluator = val_evaluator
