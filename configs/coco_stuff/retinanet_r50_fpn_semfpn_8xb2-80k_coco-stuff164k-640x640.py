# RetinaNet + Semantic FPN on one shared ResNet-50 + FPN, trained on COCO
# with COCO-Stuff: boxes of the 80 thing classes and the 171-class
# stuff-and-things map of the same images (data from
# tools/dataset_converters/coco_stuff.py --source stuffthingmaps), 640x640
# crops, 8 GPUs x 2 images for 80k iterations (as mmseg's COCO-Stuff164k
# 80k schedule; about 8 epochs).
#   torchrun --nproc_per_node 8 tools/train.py \
#       configs/coco_stuff/retinanet_r50_fpn_semfpn_8xb2-80k_coco-stuff164k-640x640.py \
#       --launcher pytorch
_base_ = [
    '../_base_/models/retinanet_r50_fpn_semfpn.py',
    '../_base_/datasets/coco_stuff_multitask.py',
    '../_base_/schedules/adamw_40k.py',
    '../_base_/default_runtime.py',
]

model = dict(
    tasks=dict(
        det=dict(head=dict(num_classes=80)),
        seg=dict(head=dict(num_classes=171))))

max_iters = 80000
train_cfg = dict(max_iters=max_iters, val_interval=8000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=500),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=500,
         end=max_iters, T_max=max_iters - 500, eta_min_ratio=0.01),
]
default_hooks = dict(checkpoint=dict(interval=8000, max_keep_ckpts=3))
