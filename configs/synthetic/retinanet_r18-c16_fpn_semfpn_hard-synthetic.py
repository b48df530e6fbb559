# Hard preset: the demo's tasks on the same synthetic scenes, set up so that
# they compete for a shared network, as real detection + segmentation do:
#  * a narrow shared backbone and FPN (16 base channels, 32 FPN channels):
#    the two tasks fight over the same few features;
#  * very different loss scales: the segmentation loss counts 20 times
#    (as a per-pixel sum or a loss in other units would), so under equal
#    weighting its gradient dominates the shared layers;
# docs/results.md shows what this does to equal weighting against the
# single-task baselines (tools/train.py --tasks det / seg) and the balancers.
#   python tools/train.py configs/synthetic/retinanet_r18-c16_fpn_semfpn_hard-synthetic.py
_base_ = './retinanet_r18-c32_fpn_semfpn_synthetic.py'

fpn_channels = 32
model = dict(
    backbone=dict(base_channels=16, stem_channels=16),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=fpn_channels),
    tasks=dict(
        det=dict(head=dict(in_channels=fpn_channels,
                           feat_channels=fpn_channels)),
        seg=dict(head=dict(
            in_channels=[fpn_channels] * 4,
            channels=32,
            loss_decode=dict(loss_weight=20.0)))))
