"""Cost of the joint multi-task model against one model per task.

Builds, from one config, the joint model and one single-task model per task
(``mmmtl.utils.task_selection.select_tasks``, as ``tools/train.py --tasks``
does: same backbone, neck, head and optim wrapper, one task), and times
side by side in one run, on random batches at the config's image size:

* inference (``test_step`` under ``no_grad``: preprocessing, backbone,
  heads, post-processing) at each of ``--batch-sizes``;
* one training step (``train_step``: forward, backward(s), optimizer step
  with the config's optim wrapper) at ``--train-batch-size``.

All of these are interleaved: each round calls every (measurement, model)
once, in an order that changes from round to round (seeded), after the same
warm-up rounds for all. The first table gives medians and interquartile
ranges over the rounds and the median (IQR) of the per-round ratio
joint / (sum of the single-task models); the second the memory: what the
model holds (weights, buffers, optimizer state) plus the peak a call
allocates above that (``mmmtl.utils.benchmark.peak_memory``). With
``--shared`` it also times the shared part alone (preprocessing, backbone,
neck; in training with its backward and optimizer step) and prints, round
by round, what the joint model costs beyond the pair less one shared part:
the time it spends that the pair does not.

    python tools/analysis_tools/benchmark_cost.py CONFIG \
        [--img-size H W] [--batch-sizes 1 8] [--train-batch-size N] \
        [--rounds R] [--warmup W] [--amp] [--device cpu|cuda] \
        [--threads T] [--clock wall|cpu] [--checkpoint JOINT.pth] [--shared] \
        [--show-order]
"""
import argparse
import copy
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.optim import OptimWrapper, build_optim_wrapper  # noqa: E402
from mmengine.registry import OPTIMIZERS  # noqa: E402
from mmengine.runner import load_checkpoint  # noqa: E402

import mmmtl  # noqa: E402,F401
from mmdet.utils import register_all_modules  # noqa: E402

from mmmtl.utils.benchmark import (  # noqa: E402
    MiB, Contender, add_timing_arguments, batch_copier, build_model,
    config_batch, describe_run, drop_pretrained, format_spread, input_size,
    markdown_table, run_interleaved, summarize, timing_setup)
from mmmtl.utils.task_selection import select_tasks  # noqa: E402

JOINT = 'joint'
SHARED = 'shared'


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('--img-size', type=int, nargs=2, default=None,
                   help='input H W (default: the config\'s img_scale)')
    p.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 8],
                   help='inference batch sizes')
    p.add_argument('--train-batch-size', type=int, default=None,
                   help='training batch (default: the config\'s '
                   'train_dataloader.batch_size; 0: no training step)')
    add_timing_arguments(p, rounds=7, warmup=2)
    p.add_argument('--shared', action='store_true',
                   help='also time the shared part alone (preprocessing, '
                   'backbone, neck) and print joint - (det + seg - shared): '
                   'the time the joint model spends that the pair does not')
    p.add_argument('--checkpoint', default=None,
                   help='weights of the joint model; each single-task model '
                   'takes its own parts (default: random initialisation)')
    return p.parse_args(argv)


def model_configs(cfg):
    """``{'joint': cfg, task: cfg with only that task, ...}``."""
    configs = {JOINT: cfg}
    for task in cfg.model.tasks:
        configs[task] = select_tasks(copy.deepcopy(cfg), [task])
    return configs


def new_model(cfg, device, checkpoint):
    model = build_model(cfg.model, device)
    if checkpoint:
        # a single-task model has only some of the joint model's keys
        load_checkpoint(model, checkpoint, map_location=device,
                        strict=False, logger='silent')
    return model


def autocast(device, enabled):
    dtype = torch.float16 if device.type == 'cuda' else torch.bfloat16
    return torch.autocast(device.type, dtype=dtype, enabled=enabled)


def inference_run(model, device, amp):
    model.eval()

    def run(batch):
        with torch.no_grad(), autocast(device, amp):
            model.test_step(batch)

    return run


def training_run(model, cfg, amp):
    wrapper_cfg = copy.deepcopy(cfg.optim_wrapper)
    if amp:
        wrapper_cfg['amp'] = True
    wrapper = build_optim_wrapper(model, wrapper_cfg)
    return (lambda batch: model.train_step(batch, wrapper)), wrapper


def shared_inference_run(model, device, amp):
    """Preprocessing, backbone and neck only."""
    model.eval()

    def run(batch):
        with torch.no_grad(), autocast(device, amp):
            model.extract_feat(model.data_preprocessor(batch, False)['inputs'])

    return run


def shared_training_run(model, cfg, amp):
    """Preprocessing, backbone and neck forward, a backward from constant
    feature gradients, then the config's optimizer (and gradient clipping)
    on the shared parameters: what one shared part costs in a step."""
    params = [p for m in model.shared_modules() for p in m.parameters()
              if p.requires_grad]
    wrapper_cfg = cfg.optim_wrapper
    wrapper = OptimWrapper(
        OPTIMIZERS.build(dict(wrapper_cfg.optimizer, params=params)),
        clip_grad=wrapper_cfg.get('clip_grad'))
    device = next(model.parameters()).device

    def run(batch):
        with autocast(device, amp):
            data = model.data_preprocessor(batch, True)
            feats = model.extract_feat(data['inputs'])
        torch.autograd.backward(
            feats, [torch.full_like(f, 1e-4) for f in feats])
        wrapper.step()
        wrapper.zero_grad()

    return run, wrapper


def held_bytes(model, wrapper=None):
    """Bytes of the model's parameters and buffers, and of the optimizer
    state (moments) when ``wrapper`` is given."""
    tensors = list(model.parameters()) + list(model.buffers())
    if wrapper is not None:
        tensors += [v for state in wrapper.optimizer.state.values()
                    for v in state.values() if torch.is_tensor(v)]
    return sum(t.numel() * t.element_size() for t in tensors)


class Entry:
    """One (measurement, model) pair: what is timed and what it holds."""

    def __init__(self, measure, model_name, contender, held):
        self.measure, self.model_name = measure, model_name
        self.contender, self.held = contender, held


def model_entries(name, model_cfg, args, device, batches,
                  runs=(inference_run, training_run)):
    """The entries of one model: inference at every batch size (one model
    in eval mode) and a training step (another model, with its wrapper);
    ``runs``: the functions that make the two calls."""
    model = new_model(model_cfg, device, args.checkpoint)
    run = runs[0](model, device, args.amp)
    entries = [Entry(f'inference, batch {n}', name,
                     Contender(f'inference, batch {n} | {name}', run,
                               batch_copier(batches[n])),
                     lambda m=model: held_bytes(m))
               for n in args.batch_sizes]
    if args.train_batch_size:
        model = new_model(model_cfg, device, args.checkpoint)
        run, wrapper = runs[1](model, model_cfg, args.amp)
        measure = f'training step, batch {args.train_batch_size}'
        entries.append(Entry(
            measure, name,
            Contender(f'{measure} | {name}', run,
                      batch_copier(batches[args.train_batch_size])),
            lambda m=model, w=wrapper: held_bytes(m, w)))
    return entries


def build_entries(args, cfg, device, size):
    sizes = set(args.batch_sizes) | {args.train_batch_size or 0}
    batches = {n: config_batch(cfg, n, size) for n in sizes if n}
    entries = []
    for name, model_cfg in model_configs(cfg).items():
        entries += model_entries(name, model_cfg, args, device, batches)
    if args.shared:
        entries += model_entries(
            SHARED, cfg, args, device, batches,
            runs=(shared_inference_run, shared_training_run))
    return entries


def by_measure(entries):
    """``{measure: {model name: entry}}`` in the order of the entries."""
    table = {}
    for entry in entries:
        table.setdefault(entry.measure, {})[entry.model_name] = entry
    return table


def time_cell(summary):
    return f'{1000 * summary.median:.1f} {format_spread(summary, 1000)}'


def time_row(measure, models, tasks):
    """Median (IQR) ms of each model and of the pair (per-round sums), and
    the median (IQR) of the per-round ratio joint / pair."""
    joint = models[JOINT].contender.times
    pair = [sum(rnd) for rnd in
            zip(*(models[t].contender.times for t in tasks))]
    ratios = [j / p for j, p in zip(joint, pair)]
    ratio = summarize(ratios)
    return ([measure, time_cell(summarize(joint))] +
            [time_cell(summarize(models[t].contender.times)) for t in tasks] +
            [time_cell(summarize(pair)),
             f'{ratio.median:.2f} {format_spread(ratio, digits=2)}'])


def memory_cell(held, peak):
    return f'{(held + peak) / MiB:.0f} = {held / MiB:.0f} + {peak / MiB:.0f}'


def memory_row(measure, models, tasks):
    """Held + peak MiB of each model; the pair holds all single-task models
    and runs them one after the other (its peak is the largest one)."""
    cells, total = {}, {}
    for name, entry in models.items():
        held, peak = entry.held(), entry.contender.peak_bytes
        cells[name], total[name] = memory_cell(held, peak), held + peak
    pair_held = sum(models[t].held() for t in tasks)
    pair_peak = max(models[t].contender.peak_bytes for t in tasks)
    ratio = total[JOINT] / (pair_held + pair_peak)
    return ([measure, cells[JOINT]] + [cells[t] for t in tasks] +
            [memory_cell(pair_held, pair_peak), f'{ratio:.2f}'])


def overhead_row(measure, models, tasks):
    """Per round: the shared part, the pair less one shared part (what
    the joint model would cost with no cost of its own), and the joint
    model's time beyond that; median (IQR) of each."""
    joint = models[JOINT].contender.times
    shared = models[SHARED].contender.times
    pair = [sum(rnd) for rnd in
            zip(*(models[t].contender.times for t in tasks))]
    expected = [p - s for p, s in zip(pair, shared)]
    beyond = [j - e for j, e in zip(joint, expected)]
    return [measure] + [time_cell(summarize(v))
                        for v in (shared, expected, joint, beyond)]


def print_overheads(table, tasks):
    pair = ' + '.join(tasks)
    print(f'\ntime, ms: the joint model against ({pair}) less one shared '
          'part (preprocessing, backbone, neck)')
    print(markdown_table(
        ['measurement', SHARED, f'{pair} - {SHARED}', JOINT,
         f'{JOINT} - ({pair} - {SHARED})'],
        [overhead_row(m, models, tasks) for m, models in table.items()]))


def print_tables(entries, tasks):
    pair = ' + '.join(tasks)
    table = by_measure(entries)
    print('\ntime, ms: median [interquartile range] over the rounds')
    print(markdown_table(
        ['measurement', JOINT] + tasks + [pair, f'{JOINT} / ({pair})'],
        [time_row(m, models, tasks) for m, models in table.items()]))
    print('\nmemory, MiB: held (weights, buffers, optimizer state) + peak '
          'of one call above it; the pair holds both models and runs them '
          'one after the other')
    print(markdown_table(
        ['measurement', JOINT] + tasks + [pair, f'{JOINT} / ({pair})'],
        [memory_row(m, models, tasks) for m, models in table.items()]))
    if any(SHARED in models for models in table.values()):
        print_overheads(table, tasks)


def run(args):
    register_all_modules()
    cfg = Config.fromfile(args.config)
    drop_pretrained(cfg.model)
    if args.train_batch_size is None:
        args.train_batch_size = cfg.train_dataloader.batch_size
    device = timing_setup(args)
    size = input_size(cfg, args.img_size)
    entries = build_entries(args, cfg, device, size)
    run_interleaved([e.contender for e in entries], args, device)
    print(f'\nmodel: {args.config}  input {size[0]}x{size[1]}  weights '
          f'{args.checkpoint or "random"}  {describe_run(args, device)}')
    print_tables(entries, list(cfg.model.tasks))


if __name__ == '__main__':
    run(parse_args())
