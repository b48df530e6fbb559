# Runtime shared by mmmtl configs: mmdet's default runtime, plus what a
# multi-task model needs (iteration-based logging and checkpoints, the
# multi-task visualizer, the DDP wrapper that hands the step to the model).
_base_ = 'mmdet::_base_/default_runtime.py'

custom_imports = dict(imports=['mmmtl'], allow_failed_imports=False)

default_hooks = dict(
    # metrics at their iteration (mmengine's default logs them at step 0
    # under iteration-based loops)
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(interval=1000, by_epoch=False, max_keep_ckpts=2))

# draws boxes with the detection classes and the semantic map with the
# segmentation classes and palette
visualizer = dict(type='MultiTaskVisualizer', alpha=0.5)
log_processor = dict(by_epoch=False)

# Under DDP, hand the step to the model so a task-balancing optim wrapper
# sees per-task losses (plain MMDistributedDataParallel otherwise).
model_wrapper_cfg = dict(type='MultiTaskDistributedDataParallel')
