# Multi-task distillation (Li & Bilen, "Knowledge Distillation for
# Multi-task Learning", 2020): the demo's model as the student of the
# demo's two single-task baselines. Each task gets a 1x1-conv adaptor per
# FPN level that maps the student's shared features into its teacher's
# feature space; the loss is the distance of the L2-normalised features,
# summed over the four finest levels (det.loss_distill_feat,
# seg.loss_distill_feat), added to the task's own.
# The teachers are frozen and run without gradients; they are not part of
# the student's checkpoint. Train the teachers first (from the repository
# root; these write the checkpoints named below):
#   python tools/train.py configs/synthetic/retinanet_r18-c32_fpn_semfpn_synthetic.py --tasks det
#   python tools/train.py configs/synthetic/retinanet_r18-c32_fpn_semfpn_synthetic.py --tasks seg
#   python tools/train.py configs/synthetic/retinanet_r18-c32_fpn_semfpn_distill-synthetic.py
_base_ = './retinanet_r18-c32_fpn_semfpn_synthetic.py'

teacher_config = 'configs/synthetic/retinanet_r18-c32_fpn_semfpn_synthetic.py'
teacher_runs = 'work_dirs/retinanet_r18-c32_fpn_semfpn_synthetic'
fpn_channels = 64

model = dict(
    data_preprocessor=dict(
        type='DistillationDataPreprocessor',
        teachers=dict(
            det=dict(config=teacher_config, task='det',
                     checkpoint=teacher_runs + '_det-only/iter_2000.pth'),
            seg=dict(config=teacher_config, task='seg',
                     checkpoint=teacher_runs + '_seg-only/iter_2000.pth'))),
    tasks=dict(
        det=dict(distill=dict(
            teacher='det', in_channels=fpn_channels,
            teacher_channels=fpn_channels, in_index=[0, 1, 2, 3],
            feat_weight=1.0)),
        seg=dict(distill=dict(
            teacher='seg', in_channels=fpn_channels,
            teacher_channels=fpn_channels, in_index=[0, 1, 2, 3],
            feat_weight=1.0))))
