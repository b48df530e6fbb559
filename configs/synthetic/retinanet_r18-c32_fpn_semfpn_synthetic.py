# Demo: RetinaNet + Semantic FPN on one ResNet-18 (32 base channels) trained
# from scratch on the built-in synthetic scenes (128x128); trains on a 2-core
# CPU in about 10 minutes and evaluates bbox mAP and mIoU.
#   python tools/train.py configs/synthetic/retinanet_r18-c32_fpn_semfpn_synthetic.py
_base_ = [
    '../_base_/models/retinanet_r18-c32_fpn_semfpn.py',
    '../_base_/datasets/synthetic_multitask.py',
    '../_base_/schedules/adamw_iter.py',
    '../_base_/default_runtime.py',
]

# reproducible runs
randomness = dict(seed=0)
