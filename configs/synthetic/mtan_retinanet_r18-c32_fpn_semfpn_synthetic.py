# MTAN (Liu et al. 2019, "End-to-End Multi-Task Learning with Attention") on
# the demo: one shared ResNet-18 (32 base channels); per task, attention
# modules on each of its four stages (a sigmoid mask from the shared
# features and the task's own features of the stage below, multiplied into
# the stage's output) and the task's own FPN on the masked features.
# Everything else (heads, data, schedule, equal weighting) is the demo's.
#   python tools/train.py configs/synthetic/mtan_retinanet_r18-c32_fpn_semfpn_synthetic.py
_base_ = './retinanet_r18-c32_fpn_semfpn_synthetic.py'

model = dict(
    type='MTANDetector',
    shared_block_convs=True,   # the f_j linking the stages, as the paper's code
    attention_norm_cfg=dict(type='BN'))
