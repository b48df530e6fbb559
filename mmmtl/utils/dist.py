"""Distributed start-up for the tools on machines without CUDA."""
import datetime
import logging
import os

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.logging import print_log


def init_dist_without_cuda(cfg: Config) -> None:
    """Start the process group of a ``--launcher pytorch`` run on CPU.

    mmengine's ``init_dist`` pins a CUDA device before it starts the process
    group, which fails on a machine without CUDA. Here, for such a machine,
    the group is started directly from torchrun's environment (``RANK``,
    ``WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT``) with
    ``env_cfg.dist_cfg``; ``nccl`` (CUDA-only, mmdet's default) becomes
    ``gloo``, with a warning. The Runner then finds the group started and
    goes on as usual. With CUDA, or without a launcher, this does nothing.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available() \
            or torch_dist.is_initialized():
        return
    if launcher != 'pytorch':
        raise RuntimeError(
            f'--launcher {launcher} needs CUDA (mmengine pins a GPU for it); '
            'on a machine without CUDA start the processes with torchrun '
            'and --launcher pytorch')
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
               if k not in os.environ]
    if missing:
        raise RuntimeError(
            f'--launcher pytorch: environment variables {missing} are not '
            'set; start the processes with torchrun (python -m '
            'torch.distributed.run --nproc_per_node N tools/train.py ...)')
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}))
    backend = dist_cfg.pop('backend', 'nccl')
    if backend == 'nccl':
        print_log('env_cfg.dist_cfg.backend is nccl, which needs CUDA; '
                  'using gloo on this machine', logger='current',
                  level=logging.WARNING)
        backend = 'gloo'
    if dist_cfg.get('timeout') is not None:
        dist_cfg['timeout'] = datetime.timedelta(seconds=dist_cfg['timeout'])
    torch_dist.init_process_group(
        backend=backend, rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']), **dist_cfg)


def shutdown_dist() -> None:
    """End a tool's process group, all ranks together.

    mmengine's Runner leaves the group open, to be torn down by each rank
    on its own at interpreter exit, with the other rank possibly still
    talking (a 2-process gloo run was once seen to abort that way, with
    "terminate called without an active exception"). A barrier, then
    destroying the group, ends the run in step. Without a group this does
    nothing.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
