# A sharing tree on the demo: the ResNet-18's stem and first two stages are
# shared by both tasks; detection and segmentation each have their own
# stages 3-4 and FPN. Everything else (heads, data, schedule, equal
# weighting) is the demo's.
#   python tools/train.py configs/synthetic/sharing-tree_retinanet_r18-c32_fpn_semfpn_synthetic.py
_base_ = './retinanet_r18-c32_fpn_semfpn_synthetic.py'

model = dict(
    type='SharingTreeDetector',
    groups=dict(det=['det'], seg=['seg']),
    branch_stage=2)
