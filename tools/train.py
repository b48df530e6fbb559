"""Train an mmmtl model (mmdet's tools/train.py, aware of task balancing).

    python tools/train.py CONFIG [--work-dir DIR] [--amp] [--resume [CKPT]]
        [--tasks TASK ...] [--cfg-options k=v ...]
        [--launcher none|pytorch|slurm|mpi]
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import DictAction  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import mmmtl  # noqa: E402,F401  (registers mmmtl's modules)
from mmmtl.utils.config import enable_amp, load_tool_config  # noqa: E402
from mmmtl.utils.dist import (init_dist_without_cuda,  # noqa: E402
                              shutdown_dist)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a multi-task model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp', action='store_true', default=False,
        help='enable automatic-mixed-precision training (keeps a '
        'task-balancing optim wrapper and its balancer)')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='enable automatically scaling LR')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or from the latest one in '
        'the work dir if none is given')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value (e.g. '
        'optim_wrapper.balancer.type=PCGrad)')
    parser.add_argument(
        '--tasks', nargs='+', metavar='TASK',
        help='only these tasks of the config (e.g. --tasks det for the '
        'single-task baseline of the same model, data, schedule and seed); '
        'the evaluator keeps their metrics')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    cfg = load_tool_config(args.config, args.launcher, args.cfg_options,
                           args.work_dir, args.tasks)

    if args.amp:
        enable_amp(cfg)

    if args.auto_scale_lr:
        if 'auto_scale_lr' in cfg and 'enable' in cfg.auto_scale_lr \
                and 'base_batch_size' in cfg.auto_scale_lr:
            cfg.auto_scale_lr.enable = True
        else:
            sys.exit('error: --auto-scale-lr needs auto_scale_lr=dict('
                     'enable=..., base_batch_size=...) in the config')

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            sys.exit(f'error: checkpoint to resume from not found: '
                     f'{args.resume}')
        cfg.resume = True
        cfg.load_from = args.resume

    init_dist_without_cuda(cfg)  # torchrun on CPU: gloo, no GPU pinning
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    runner.train()
    shutdown_dist()


if __name__ == '__main__':
    main()
