"""DDP through mmengine's launcher on CPU: torchrun starts two processes of
tools/train.py --launcher pytorch (gloo); after the same iterations their
weights are those of one process trained on the same global batches."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from mtl_ddp_worker import ddp_model_cfg
from mtl_fixtures import REPO, dataset_cfg, runner_cfg

ITERS = 3


def _config(root, work_dir, batch_size, balancer, mode):
    cfg = runner_cfg(root, work_dir, max_iters=ITERS, balancer=balancer,
                     jacobian_mode=mode)
    cfg.model = ddp_model_cfg()
    cfg.optim_wrapper.optimizer = dict(type='SGD', lr=0.05, momentum=0.9)
    # no random flips, no shuffling: with 2 ranks, rank r reads samples
    # r, r + 2, ..., so each iteration's global batch is the 1-process one
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='LoadMultiTaskAnnotations', with_bbox=True,
                     with_seg=True),
                dict(type='PackMultiTaskInputs')]
    cfg.train_dataloader = dict(
        batch_size=batch_size, num_workers=0,
        sampler=dict(type='InfiniteSampler', shuffle=False),
        dataset=dataset_cfg(root, 'train', pipeline=pipeline))
    cfg.train_cfg.val_interval = ITERS + 1
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.default_hooks.checkpoint.interval = ITERS
    cfg.model_wrapper_cfg = dict(type='MultiTaskDistributedDataParallel')
    # nccl, as in mmdet's runtime: the tool must switch to gloo without CUDA
    cfg.env_cfg = dict(dist_cfg=dict(backend='nccl'))
    path = osp.join(str(work_dir), 'config.py')
    os.makedirs(str(work_dir), exist_ok=True)
    cfg.dump(path)
    return path


def _run(args, work_dir):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')
    proc = subprocess.run([sys.executable, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ckpt = osp.join(str(work_dir), f'iter_{ITERS}.pth')
    return torch.load(ckpt, map_location='cpu', weights_only=False), proc


@pytest.mark.parametrize('balancer,mode', [('EqualWeighting', 'feature'),
                                           ('MGDA', 'parameter')])
def test_torchrun_two_processes_match_one(tiny_data_root, tmp_path,
                                          balancer, mode):
    one_dir, two_dir = tmp_path / 'one', tmp_path / 'two'
    single, _ = _run(['tools/train.py',
                      _config(tiny_data_root, one_dir, 4, balancer, mode)],
                     one_dir)
    # --standalone: torchrun binds a free port itself (a port picked free
    # beforehand can be taken by another process before it is bound)
    double, proc = _run(['-m', 'torch.distributed.run', '--standalone',
                         '--nproc_per_node', '2', 'tools/train.py',
                         _config(tiny_data_root, two_dir, 2, balancer, mode),
                         '--launcher', 'pytorch'], two_dir)
    assert 'using gloo' in proc.stdout + proc.stderr
    assert double['meta']['iter'] == single['meta']['iter'] == ITERS
    for key, value in single['state_dict'].items():
        # equal up to float32 summation order (a rank stepping on its own
        # half of the batch would be off by the size of an update, ~1e-2)
        torch.testing.assert_close(double['state_dict'][key], value,
                                   rtol=1e-3, atol=2e-5, msg=key)
    # the weights did move (SGD momentum buffers are not zero): the
    # comparison is not vacuous
    momenta = [s['momentum_buffer'] for s in
               single['optimizer']['state'].values()]
    assert momenta and sum(float(m.norm()) for m in momenta) > 1e-3


def test_cpu_launchers_other_than_torchrun_are_refused_clearly(monkeypatch):
    from mmengine.config import Config

    from mmmtl.utils.dist import init_dist_without_cuda
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(RuntimeError, match='torchrun'):
        init_dist_without_cuda(Config(dict(launcher='slurm')))
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(RuntimeError, match="'RANK'"):
        init_dist_without_cuda(Config(dict(launcher='pytorch')))
    # no launcher: nothing to start
    init_dist_without_cuda(Config(dict(launcher='none')))
    assert not torch.distributed.is_initialized()
