# RetinaNet + Semantic FPN on one shared ResNet-50 + FPN, trained on
# BDD100K: boxes of the 10 detection classes and the drivable-area map
# (3 classes: direct, alternative, background; the `seg` task) of the same
# frames (data from tools/dataset_converters/bdd100k.py; frames without a
# drivable mask train detection only), 640x640 crops, 8 GPUs x 2 images.
#   torchrun --nproc_per_node 8 tools/train.py \
#       configs/bdd100k/retinanet_r50_fpn_semfpn_8xb2-40k_bdd100k-640x640.py \
#       --launcher pytorch
_base_ = [
    '../_base_/models/retinanet_r50_fpn_semfpn.py',
    '../_base_/datasets/bdd100k_multitask.py',
    '../_base_/schedules/adamw_40k.py',
    '../_base_/default_runtime.py',
]

model = dict(
    tasks=dict(
        det=dict(head=dict(num_classes=10)),
        seg=dict(head=dict(num_classes=3))))

default_hooks = dict(checkpoint=dict(interval=4000, max_keep_ckpts=3))
