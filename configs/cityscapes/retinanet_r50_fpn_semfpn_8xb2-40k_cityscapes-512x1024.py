# RetinaNet + Semantic FPN on one shared ResNet-50 + FPN, trained on
# Cityscapes: boxes of the 8 instance classes and the 19-class semantic map
# of the same frames (data from tools/dataset_converters/cityscapes.py),
# 512x1024 crops, 8 GPUs x 2 images.
#   torchrun --nproc_per_node 8 tools/train.py \
#       configs/cityscapes/retinanet_r50_fpn_semfpn_8xb2-40k_cityscapes-512x1024.py \
#       --launcher pytorch
# It is also the model of the balancer benchmark's GPU run
# (docs/balancers.md).
_base_ = [
    '../_base_/models/retinanet_r18_fpn_semfpn.py',
    '../_base_/datasets/cityscapes_multitask.py',
    '../_base_/schedules/adamw_iter.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(
        depth=50,
        frozen_stages=1,
        norm_eval=True,
        init_cfg=dict(type='Pretrained',
                      checkpoint='torchvision://resnet50')),
    neck=dict(in_channels=[256, 512, 1024, 2048]),
    tasks=dict(
        det=dict(head=dict(num_classes=8)),
        seg=dict(head=dict(num_classes=19))))

max_iters = 40000
train_cfg = dict(max_iters=max_iters, val_interval=4000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=500),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=500,
         end=max_iters, T_max=max_iters - 500, eta_min_ratio=0.01),
]
optim_wrapper = dict(optimizer=dict(lr=1e-4, weight_decay=0.05))
default_hooks = dict(
    checkpoint=dict(interval=4000, max_keep_ckpts=3))
auto_scale_lr = dict(enable=False, base_batch_size=16)
