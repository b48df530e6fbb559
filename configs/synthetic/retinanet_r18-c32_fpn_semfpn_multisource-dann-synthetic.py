# Multi-source training with adversarial feature alignment (DANN, Ganin &
# Lempitsky 2015): the multi-source config (a detection-only and a
# segmentation-only source, 1:1 in every batch) plus an auxiliary task that
# tells the two sources apart from the shared stride-32 features, behind a
# gradient-reversal layer whose weight ramps up as 0.1 * (2/(1+exp(-10p))-1)
# over training; the shared layers learn features that do not give the source
# away. The discriminator is trained only (not predicted, exported or
# evaluated); its accuracy is logged as disc.acc (50% = aligned).
#   python tools/train.py configs/synthetic/retinanet_r18-c32_fpn_semfpn_multisource-dann-synthetic.py
_base_ = './retinanet_r18-c32_fpn_semfpn_multisource-synthetic.py'

model = dict(tasks=dict(disc=dict(
    type='DomainDiscriminatorTask',
    num_classes=2,
    in_channels=64,                 # the FPN's channels
    in_index=2,                     # stride 32
    label_key='source',
    hidden_channels=(256, 256),
    # DANN's ramp to 0.1, the adversarial weight of Domain Adaptive Faster
    # R-CNN (Chen et al. 2018): at 1.0 the reversed gradient swamped the
    # tasks' on the demo (docs/tasks.md)
    grl=dict(max_lambda=0.1, schedule='dann', gamma=10.0))))

# each source's pipeline sets its source label (0: detection-only,
# 1: segmentation-only) and packs it into the samples' metainfo. Both
# sources draw the same kind of scenes: the segmentation-only source's
# images are darkened (brightness x0.5, as if taken in other light) to give
# the sources a domain shift for the discriminator to find.
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.det_only, pipeline=[
        *_base_.train_pipeline[:-1],
        dict(type='SetImageLabel', key='source', value=0),
        dict(type='PackMultiTaskInputs', extra_meta_keys=['source'])]),
    dict(_base_.seg_only, pipeline=[
        *_base_.train_pipeline[:-1],
        dict(type='Brightness', prob=1.0, min_mag=0.5, max_mag=0.5),
        dict(type='SetImageLabel', key='source', value=1),
        dict(type='PackMultiTaskInputs', extra_meta_keys=['source'])]),
]))

custom_hooks = [dict(type='GradientReversalScheduleHook')]
