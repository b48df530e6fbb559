# RetinaNet + Semantic FPN (retinanet_r50_fpn_semfpn.py) on a ResNet-18
# trained from scratch.
_base_ = './retinanet_r50_fpn_semfpn.py'

# mmdet's backbone loads ImageNet weights: dropped here (from the base, so
# that a config may still set an init_cfg)
_base_.model.backbone.pop('init_cfg')
model = dict(
    backbone=dict(depth=18, frozen_stages=-1, norm_eval=False),
    neck=dict(in_channels=[64, 128, 256, 512]))
