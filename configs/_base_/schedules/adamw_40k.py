# The real-dataset schedule: 40k iterations of 8 GPUs x 2 images (batch 16),
# AdamW at 1e-4 with a 500-iteration warm-up and cosine decay to 1%,
# validation every 4000 iterations.
_base_ = './adamw_iter.py'

max_iters = 40000
train_cfg = dict(max_iters=max_iters, val_interval=4000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=500),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=500,
         end=max_iters, T_max=max_iters - 500, eta_min_ratio=0.01),
]
optim_wrapper = dict(optimizer=dict(lr=1e-4, weight_decay=0.05))
auto_scale_lr = dict(enable=False, base_batch_size=16)
