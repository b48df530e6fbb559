# COCO: 80-class instances + COCO-Stuff 171-class semantic maps (for
# panoptic-derived maps use seg='panoptic_semseg/...') — produced by
# tools/dataset_converters (coco_stuff.py --source stuffthingmaps); see its
# README. The layout and scales are multitask_coco.py's.
_base_ = './multitask_coco.py'

data_root = 'data/coco/'

train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        ann_file='annotations/instances_train2017_mmmtl.json',
        data_prefix=dict(img='train2017/',
                         seg='stuffthingmaps_trainval2017/train2017/')))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        ann_file='annotations/instances_val2017_mmmtl.json',
        data_prefix=dict(img='val2017/',
                         seg='stuffthingmaps_trainval2017/val2017/')))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val2017_mmmtl.json', metric='bbox'),
    dict(type='SegIoUMetric', iou_metrics=['mIoU']),
]
test_evaluator = val_evaluator
