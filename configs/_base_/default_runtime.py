# Runtime shared by mmmtl configs (mmdet's default runtime, plus what a
# multi-task model needs).
default_scope = 'mmdet'
custom_imports = dict(imports=['mmmtl'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    # metrics at their iteration (mmengine's default logs them at step 0
    # under iteration-based loops)
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1000, by_epoch=False,
                    max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DetVisualizationHook'))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))

vis_backends = [dict(type='LocalVisBackend')]
# draws boxes with the detection classes and the semantic map with the
# segmentation classes and palette
visualizer = dict(
    type='MultiTaskVisualizer', vis_backends=vis_backends, name='visualizer',
    alpha=0.5)
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False

# Under DDP, hand the step to the model so a task-balancing optim wrapper
# sees per-task losses (plain MMDistributedDataParallel otherwise).
model_wrapper_cfg = dict(type='MultiTaskDistributedDataParallel')
