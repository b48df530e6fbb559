"""Test (evaluate) an mmmtl model: bbox mAP and mIoU in one run.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE.pkl]
        [--show-dir DIR] [--show] [--tasks TASK ...] [--cfg-options k=v ...]
        [--launcher ...]
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import DictAction  # noqa: E402
from mmengine.evaluator import DumpResults  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import mmmtl  # noqa: E402,F401
from mmmtl.utils.config import load_tool_config  # noqa: E402
from mmmtl.utils.dist import (init_dist_without_cuda,  # noqa: E402
                              shutdown_dist)


def parse_args():
    parser = argparse.ArgumentParser(description='Test a multi-task model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save evaluation logs')
    parser.add_argument('--out', type=str,
                        help='dump predictions to a pickle file')
    parser.add_argument('--show', action='store_true',
                        help='show prediction results in a window')
    parser.add_argument(
        '--show-dir',
        help='directory (under the work dir\'s timestamp folder) where '
        'images with boxes and the segmentation overlay are written')
    parser.add_argument('--wait-time', type=float, default=2,
                        help='the interval of show (s)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value')
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


def trigger_visualization_hook(cfg, args):
    hooks = cfg.default_hooks
    if 'visualization' not in hooks:
        sys.exit('error: --show/--show-dir need default_hooks.visualization '
                 '(a DetVisualizationHook) in the config')
    hooks.visualization.draw = True
    if args.show:
        hooks.visualization.show = True
        hooks.visualization.wait_time = args.wait_time
    if args.show_dir:
        hooks.visualization.test_out_dir = args.show_dir
    return cfg


def main():
    args = parse_args()
    if not osp.isfile(args.checkpoint):
        sys.exit(f'error: checkpoint file not found: {args.checkpoint}')
    cfg = load_tool_config(args.config, args.launcher, args.cfg_options,
                           args.work_dir, args.tasks)
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)

    init_dist_without_cuda(cfg)  # torchrun on CPU: gloo, no GPU pinning
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            sys.exit('error: --out must be a .pkl or .pickle file')
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out))
    runner.test()
    shutdown_dist()


if __name__ == '__main__':
    main()
