# Cross-Stitch networks (Misra et al. 2016) on the demo: one ResNet-18 (32
# base channels) + FPN column per task (det, seg), a cross-stitch unit after
# each of the first three ResNet stages (per-channel alphas starting at 0.9
# for the own column, 0.1 for the other); each head reads its column's FPN.
# Everything else (heads, data, schedule, equal weighting) is the demo's.
#   python tools/train.py configs/synthetic/cross-stitch_retinanet_r18-c32_fpn_semfpn_synthetic.py
_base_ = './retinanet_r18-c32_fpn_semfpn_synthetic.py'

model = dict(
    type='CrossStitchDetector',
    stitch_stages=[0, 1, 2],
    alpha_self=0.9,
    per_channel=True)

# the alphas are mixing weights, not filters: no weight decay towards 0.
# (The paper raises their SGD learning rate 100-1000x because their
# gradients are small; AdamW's steps do not scale with the gradient.)
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'stitches': dict(decay_mult=0.0)}))
