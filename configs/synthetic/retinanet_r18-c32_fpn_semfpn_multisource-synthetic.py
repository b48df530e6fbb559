# Partial labels from two sources: the demo's model trained on a
# detection-only and a segmentation-only source of synthetic scenes, mixed
# 1:1 into every batch (_base_/datasets/synthetic_multisource.py); each
# task's loss is computed on the samples that carry its labels. Validation
# is the demo's, on fully labelled scenes.
#   python tools/train.py configs/synthetic/retinanet_r18-c32_fpn_semfpn_multisource-synthetic.py
_base_ = [
    '../_base_/models/retinanet_r18-c32_fpn_semfpn.py',
    '../_base_/datasets/synthetic_multisource.py',
    '../_base_/schedules/adamw_iter.py',
    '../_base_/default_runtime.py',
]

# reproducible runs
randomness = dict(seed=0)
