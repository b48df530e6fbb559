# Multi-source training on the synthetic data: a detection-only source (the
# train split's boxes, no seg maps) and a segmentation-only source (the same
# kind of scenes with seg maps, detection labels switched off), sampled 1:1
# into every batch by mmdet's MultiSourceSampler. Each task's loss is
# computed on the samples that carry its labels.
_base_ = './synthetic_multitask.py'

det_only = dict(
    type='SyntheticMultiTaskDataset',
    data_root={{_base_.data_root}},
    generate={{_base_.synthetic_cfg}},
    ann_file='annotations/instances_train.json',
    data_prefix=dict(img='images/train/'),            # no seg maps
    filter_cfg=dict(filter_empty_gt=False),
    pipeline={{_base_.train_pipeline}})
seg_only = dict(
    type='SyntheticMultiTaskDataset',
    data_root={{_base_.data_root}},
    generate={{_base_.synthetic_cfg}},
    ann_file='annotations/instances_train.json',
    data_prefix=dict(img='images/train/', seg='seg_maps/train/'),
    det_labels=False,                                  # no boxes
    filter_cfg=dict(filter_empty_gt=False),
    pipeline={{_base_.train_pipeline}})

train_dataloader = dict(
    _delete_=True,
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='MultiSourceSampler', batch_size=8,
                 source_ratio=[1, 1]),
    batch_sampler=None,
    dataset=dict(type='ConcatDataset', datasets=[det_only, seg_only]))
