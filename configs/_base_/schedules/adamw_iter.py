# Iteration-based AdamW schedule with linear warm-up and cosine decay.
max_iters = 2000
val_interval = 2000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=val_interval)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100,
         end=max_iters, T_max=max_iters - 100, eta_min_ratio=0.05),
]

# Equal weighting through the task-balancing wrapper; pick another method
# with e.g. balancer=dict(type='PCGrad').
optim_wrapper = dict(
    type='MultiTaskOptimWrapper',
    constructor='MultiTaskOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05),
    balancer=dict(type='EqualWeighting'),
    clip_grad=dict(max_norm=10.0, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=8)
