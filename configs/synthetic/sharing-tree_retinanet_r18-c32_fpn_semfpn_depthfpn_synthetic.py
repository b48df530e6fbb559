# A sharing tree on the three-task preset (detection, segmentation, depth):
# one ResNet-18 (32 base channels) for all; the two dense tasks share an FPN,
# detection has its own.
#   python tools/train.py configs/synthetic/sharing-tree_retinanet_r18-c32_fpn_semfpn_depthfpn_synthetic.py
_base_ = './retinanet_r18-c32_fpn_semfpn_depthfpn_synthetic.py'

model = dict(
    type='SharingTreeDetector',
    groups=dict(det=['det'], dense=['seg', 'depth']))
