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
    '../_base_/models/retinanet_r50_fpn_semfpn.py',
    '../_base_/datasets/cityscapes_multitask.py',
    '../_base_/schedules/adamw_40k.py',
    '../_base_/default_runtime.py',
]

model = dict(
    tasks=dict(
        det=dict(head=dict(num_classes=8)),
        seg=dict(head=dict(num_classes=19))))

default_hooks = dict(checkpoint=dict(interval=4000, max_keep_ckpts=3))
