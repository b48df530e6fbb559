"""Parameters, step time and memory of multi-task architectures against a
reference (hard sharing), side by side in one run.

Each config's model is built (random weights) with the config's optim
wrapper (``--balancer`` / ``--jacobian-mode`` override it), and timed on
random batches at the config's image size:

* one training step (``train_step``: forward, backward(s), optimizer step);
* inference (``test_step`` under ``no_grad``) at ``--infer-batch-size``.

Every (measurement, model) pair is called once per round, in an order that
changes from round to round (seeded), after the same warm-up rounds for all
(:mod:`mmmtl.utils.benchmark`); the table gives medians and interquartile
ranges over the rounds and the median (IQR) of the per-round ratio to the
first config. Memory: what the model holds (weights, buffers, optimizer
state) plus the peak one call allocates above that.

    python tools/analysis_tools/benchmark_architectures.py \
        REFERENCE_CONFIG CONFIG [CONFIG ...] [--names N ...] \
        [--train-batch-size 8] [--infer-batch-size 8] [--balancer UPGrad] \
        [--jacobian-mode feature|parameter] [--rounds R] [--warmup W] \
        [--threads 1] [--clock wall|cpu] [--amp] [--device cpu|cuda]
"""
import argparse
import copy
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402

import mmmtl  # noqa: E402,F401
from mmdet.utils import register_all_modules  # noqa: E402

from mmmtl.utils.benchmark import (  # noqa: E402
    MiB, Contender, add_timing_arguments, batch_copier, build_model,
    config_batch, describe_run, drop_pretrained, format_spread, input_size,
    markdown_table, run_interleaved, summarize, timing_setup)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('configs', nargs='+',
                   help='the reference (e.g. hard sharing) first')
    p.add_argument('--names', nargs='+', default=None,
                   help='a short name per config (default: file names)')
    p.add_argument('--train-batch-size', type=int, default=8)
    p.add_argument('--infer-batch-size', type=int, default=8)
    p.add_argument('--balancer', default=None,
                   help="override optim_wrapper.balancer.type")
    p.add_argument('--jacobian-mode', default=None,
                   choices=['feature', 'parameter'])
    add_timing_arguments(p, rounds=7, warmup=2)
    args = p.parse_args(argv)
    if args.names and len(args.names) != len(args.configs):
        p.error(f'--names gives {len(args.names)} names for '
                f'{len(args.configs)} configs')
    return args


def wrapper_cfg(cfg, args):
    """The config's optim wrapper with the command line's overrides."""
    out = copy.deepcopy(cfg.optim_wrapper)
    if args.balancer:
        out['balancer'] = dict(type=args.balancer)
    if args.jacobian_mode:
        out['jacobian_mode'] = args.jacobian_mode
    if args.amp:
        out['amp'] = True
    return out


def held_bytes(model, wrapper):
    """Weights, buffers and optimizer state (moments), in bytes."""
    tensors = list(model.parameters()) + list(model.buffers()) + [
        v for state in wrapper.optimizer.state.values()
        for v in state.values() if torch.is_tensor(v)]
    return sum(t.numel() * t.element_size() for t in tensors)


class Row:
    """One config: its two timed calls and its parameter counts."""

    def __init__(self, name, cfg, args, device, size):
        train_model = build_model(cfg.model, device)
        wrapper = build_optim_wrapper(train_model, wrapper_cfg(cfg, args))
        self.name, self.wrapper, self.model = name, wrapper, train_model
        self.params = sum(p.numel() for p in train_model.parameters())
        self.shared = sum(p.numel() for m in train_model.shared_modules()
                          for p in m.parameters())
        self.train = Contender(
            f'training step | {name}',
            lambda batch: train_model.train_step(batch, wrapper),
            batch_copier(config_batch(cfg, args.train_batch_size, size)))
        infer_model = build_model(cfg.model, device).eval()
        amp = torch.autocast(device.type, enabled=args.amp,
                             dtype=torch.float16 if device.type == 'cuda'
                             else torch.bfloat16)

        def infer(batch):
            with torch.no_grad(), amp:
                infer_model.test_step(batch)

        self.infer = Contender(
            f'inference | {name}', infer,
            batch_copier(config_batch(cfg, args.infer_batch_size, size)))


def cell(times):
    return f'{1000 * summarize(times).median:.1f} ' \
        f'{format_spread(summarize(times), 1000)}'


def ratio_cell(times, reference):
    ratio = summarize([t / r for t, r in zip(times, reference)])
    return f'{ratio.median:.2f} {format_spread(ratio, digits=2)}'


def table(rows):
    ref = rows[0]
    lines = []
    for row in rows:
        held = held_bytes(row.model, row.wrapper)
        lines.append([
            row.name, f'{row.params / 1e6:.2f}', f'{row.shared / 1e6:.2f}',
            cell(row.train.times),
            ratio_cell(row.train.times, ref.train.times),
            f'{(held + row.train.peak_bytes) / MiB:.0f} = {held / MiB:.0f}'
            f' + {row.train.peak_bytes / MiB:.0f}',
            cell(row.infer.times),
            ratio_cell(row.infer.times, ref.infer.times)])
    return markdown_table(
        ['model', 'params, M', 'shared, M', 'training step, ms',
         f'/ {ref.name}', 'training memory, MiB (held + peak)',
         'inference, ms', f'/ {ref.name}'], lines)


def run(args):
    register_all_modules()
    device = timing_setup(args)
    names = args.names or [osp.splitext(osp.basename(c))[0]
                           for c in args.configs]
    rows = []
    for name, path in zip(names, args.configs):
        cfg = Config.fromfile(path)
        drop_pretrained(cfg.model)
        rows.append(Row(name, cfg, args, device, input_size(cfg)))
    run_interleaved([c for r in rows for c in (r.train, r.infer)], args,
                    device)
    print(f'\ntraining batch {args.train_batch_size}, inference batch '
          f'{args.infer_batch_size}, input {input_size(cfg)}, balancer '
          f'{args.balancer or "as configured"}, jacobian mode '
          f'{args.jacobian_mode or "as configured"}  '
          f'{describe_run(args, device)}')
    print('time: median [interquartile range] over the rounds; ratio: '
          'median [IQR] of the per-round ratios to the first row')
    print(table(rows))


if __name__ == '__main__':
    run(parse_args())
