# Three tasks on one network: the demo's RetinaNet + Semantic FPN, plus
# monocular depth estimation (a Semantic-FPN-style head with one output
# channel, scale-invariant log loss) on the same synthetic scenes, which
# are written here with a depth map each (a receding ground plane, objects
# in front of it; uint16 PNG in mm, sky without depth). Trains on a 2-core
# CPU; evaluates bbox mAP, mIoU and the depth errors (abs rel, RMSE...).
#   python tools/train.py configs/synthetic/retinanet_r18-c32_fpn_semfpn_depthfpn_synthetic.py
#   python tools/train.py configs/synthetic/retinanet_r18-c32_fpn_semfpn_depthfpn_synthetic.py --tasks depth
_base_ = './retinanet_r18-c32_fpn_semfpn_synthetic.py'

fpn_channels = 64
max_depth = 50.0  # m: the synthetic ground is capped there
model = dict(
    tasks=dict(
        depth=dict(
            type='DepthEstimationTask',
            max_depth=max_depth,
            head=dict(
                type='FPNHead',
                in_channels=[fpn_channels] * 4,
                in_index=[0, 1, 2, 3],
                feature_strides=[8, 16, 32, 64],
                channels=32,
                dropout_ratio=0.0,
                norm_cfg=dict(type='BN', requires_grad=True),
                align_corners=False,
                loss_decode=dict(type='SiLogLoss', loss_weight=1.0)))))

# the same scenes as the demo (the same image bytes), with depth maps, in a
# folder of their own
data_root = 'data/synthetic_depth/'
synthetic_cfg = dict(num_train=1000, num_val=100, img_size=(128, 128),
                     seed=0, depth=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations', with_bbox=True, with_seg=True),
    dict(type='RandomFlip', prob=0.5),
    # after the geometric transforms: warped as the image was
    dict(type='LoadDepthAnnotation', depth_scale=1000.0),
    dict(type='PackMultiTaskInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    # ground truth at the original size, for evaluation
    dict(type='LoadMultiTaskAnnotations', with_bbox=True, with_seg=True),
    dict(type='LoadDepthAnnotation', depth_scale=1000.0,
         align_with_image=False),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        generate=synthetic_cfg,
        data_prefix=dict(img='images/train/', seg='seg_maps/train/',
                         depth='depth_maps/train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        generate=synthetic_cfg,
        data_prefix=dict(img='images/val/', seg='seg_maps/val/',
                         depth='depth_maps/val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val.json',
         metric='bbox', format_only=False),
    dict(type='SegIoUMetric', iou_metrics=['mIoU']),
    dict(type='DepthEstimationMetric'),
]
test_evaluator = val_evaluator
