"""Step time and peak memory of each task balancer against equal weighting.

Every method trains the same model on the same batch. The methods are
interleaved: each round runs one step of every method, in an order that
changes from round to round (seeded; see ``mmmtl.utils.benchmark``), after
the same warm-up rounds for all, so that machine noise and the position in
the round hit all methods alike. The table prints each method's median step
time and its spread (interquartile range) over the rounds, and its ratio to
equal weighting measured in the same rounds (median and spread of the
per-round ratios). For gradient methods it also times torchjd's own
``mtl_backward`` + ``jac_to_grad`` path with the same aggregator on the
same model.

    python tools/analysis_tools/benchmark_balancers.py CONFIG \
        [--img-size H W] [--batch-size N] [--rounds R] [--warmup W] [--amp] \
        [--methods EqualWeighting DWA PCGrad 'NashMTL:recompute_every=4' ...] \
        [--modes feature parameter] \
        [--device cpu|cuda] [--threads T] [--clock wall|cpu] [--show-order]
"""
import argparse
import ast
import copy
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402

import mmmtl  # noqa: E402,F401
from mmdet.utils import register_all_modules  # noqa: E402

from mmmtl.registry import BALANCERS  # noqa: E402
from mmmtl.utils.benchmark import (  # noqa: E402
    MiB, Contender, add_timing_arguments, batch_copier, build_model,
    config_batch, describe_run, drop_pretrained, format_spread, input_size,
    markdown_table, run_interleaved, summarize, timing_setup)

REFERENCE = 'EqualWeighting'
LOSS_METHODS = ['StaticWeighting', 'UncertaintyWeighting', 'DWA', 'RLW',
                'GLS', 'FAMO', 'STCH', 'IMTLL']
GRAD_METHODS = ['GradNorm', 'PCGrad', 'GradVac', 'CAGrad', 'MGDA', 'IMTLG',
                'NashMTL', 'AlignedMTL', 'UPGrad', 'DualProj', 'ConFIG',
                'FairGrad', 'GradDrop', 'DBMTL', 'SDMGrad', 'MoDo', 'CRMOGM',
                'ExcessMTL', 'MoCo']
# torchjd aggregators to compare our path with (same method, torchjd's API)
TORCHJD_AGGREGATORS = {'UPGrad': 'UPGrad', 'MGDA': 'MGDA', 'PCGrad': 'PCGrad',
                       'IMTLG': 'IMTLG', 'AlignedMTL': 'AlignedMTL',
                       'DualProj': 'DualProj'}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('--img-size', type=int, nargs=2, default=None,
                   help='input H W (default: from the config)')
    p.add_argument('--batch-size', type=int, default=4)
    add_timing_arguments(p, rounds=10, warmup=2)
    p.add_argument('--methods', nargs='+', default=None)
    p.add_argument('--modes', nargs='+', default=['feature', 'parameter'])
    p.add_argument('--no-torchjd', action='store_true')
    return p.parse_args(argv)


def parse_method(spec):
    """``'Name'`` or ``'Name:key=value,key=value'`` (values as Python
    literals) -> (name, balancer options)."""
    name, _, opts = spec.partition(':')
    kwargs = {}
    for item in filter(None, opts.split(',')):
        key, _, value = item.partition('=')
        kwargs[key.strip()] = ast.literal_eval(value.strip())
    return name, kwargs


def wrapper_config(method, mode, amp):
    name, kwargs = parse_method(method)
    wcfg = dict(type='MultiTaskOptimWrapper',
                constructor='MultiTaskOptimWrapperConstructor',
                optimizer=dict(type='SGD', lr=1e-4, momentum=0.9),
                balancer=dict(type=name, **kwargs), amp=amp,
                log_cosine=False)
    if mode != '-':
        wcfg['jacobian_mode'] = mode
    return wcfg


def method_contenders(base, method, args):
    """The contenders of one method: one per Jacobian mode it runs in
    (loss weightings: one), each with its own copy of the model."""
    cls = BALANCERS.get(parse_method(method)[0])
    if cls is None:
        print(f'skip {method}: not registered')
        return []
    out = []
    for mode in ['-'] if cls.requires == 'losses' else args.modes:
        model = copy.deepcopy(base)
        try:
            wrapper = build_optim_wrapper(
                model, wrapper_config(method, mode, args.amp))
        except ImportError as e:
            print(f'skip {method}: {e}')
            return out
        forced = getattr(wrapper.balancer, 'jacobian_mode', None)
        if forced and forced != mode:
            continue
        label = method if mode == '-' else f'{method} [{mode}]'
        out.append(Contender(
            label, lambda b, m=model, w=wrapper: m.train_step(b, w)))
    return out


def build_contenders(args, cfg, device, batch):
    """Equal weighting first (the reference), then every method asked for;
    all train copies of one model on copies of ``batch``."""
    base = build_model(cfg.model, device)
    methods = args.methods or (LOSS_METHODS + GRAD_METHODS)
    methods = [REFERENCE] + [m for m in methods if m != REFERENCE]
    contenders = []
    for method in methods:
        contenders += method_contenders(base, method, args)
        if not args.no_torchjd and method in TORCHJD_AGGREGATORS:
            contenders.append(torchjd_contender(base, method, args))
    for contender in contenders:
        contender.make_input = batch_copier(batch)
    return contenders


def torchjd_contender(base, method, args):
    """torchjd's own path: mtl_backward on the shared features, then
    jac_to_grad on the shared parameters with the same aggregator."""
    import torchjd.aggregation as agg
    from torchjd.autojac import jac_to_grad, mtl_backward
    model = copy.deepcopy(base)
    aggregator = getattr(agg, TORCHJD_AGGREGATORS[method])()
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    shared = [p for m in model.shared_modules() for p in m.parameters()
              if p.requires_grad]
    # a task's own modules, as MultiTaskOptimWrapperConstructor takes them:
    # an architecture's task-specific modules above the cut included
    task_params = {name: list(dict.fromkeys(
        p for m in modules for p in m.parameters() if p.requires_grad))
        for name, modules in model.task_modules().items()}
    device_type = next(model.parameters()).device.type
    dtype = torch.bfloat16 if device_type == 'cpu' else torch.float16

    def step(batch):
        with torch.autocast(device_type, dtype=dtype, enabled=args.amp):
            data = model.data_preprocessor(batch, True)
            feats = model.extract_feat(data['inputs'])
            per_task = model.task_losses(feats, data['data_samples'])
            losses = [model.parse_losses(v)[0] for v in per_task.values()]
        tasks = [task_params[name] for name in per_task]
        # parallel_chunk_size=1: one vjp per task, no vmap (torchjd's
        # vmapped backward fails on these mmdet/mmseg graphs)
        mtl_backward(losses, features=list(feats), tasks_params=tasks,
                     shared_params=shared, parallel_chunk_size=1,
                     retain_graph=True)
        jac_to_grad(shared, aggregator)
        opt.step()
        opt.zero_grad()

    return Contender(f'torchjd mtl_backward {method}', step)


def results_table(contenders):
    """One row per contender: median step time and its interquartile
    range, the median (and IQR) of its per-round ratio to the reference,
    the ratio of its total time to the reference's (the amortized cost of
    a method whose steps differ, e.g. ``recompute_every``: run a multiple
    of ``k`` rounds), its step memory and that memory's ratio to the
    reference's."""
    ref = contenders[0]
    rows = []
    for c in contenders:
        time_s = summarize(c.times)
        ratio = summarize([t / r for t, r in zip(c.times, ref.times)])
        rows.append([c.name, f'{1000 * time_s.median:.1f}',
                     format_spread(time_s, 1000), f'{ratio.median:.2f}',
                     format_spread(ratio, digits=2),
                     f'{sum(c.times) / sum(ref.times):.2f}',
                     f'{c.peak_bytes / MiB:.0f}',
                     f'{c.peak_bytes / max(ref.peak_bytes, 1):.2f}'])
    header = ['method', 'step (ms)', 'IQR (ms)', 'x equal weighting',
              'IQR of x', 'x, total time', 'step memory (MiB)',
              'x equal weighting']
    return markdown_table(header, rows)


def run(args):
    register_all_modules()
    cfg = Config.fromfile(args.config)
    drop_pretrained(cfg.model)
    device = timing_setup(args)
    size = input_size(cfg, args.img_size)
    batch = config_batch(cfg, args.batch_size, size)
    contenders = build_contenders(args, cfg, device, batch)
    run_interleaved(contenders, args, device)
    print(f'\nmodel: {args.config}  input {size[0]}x{size[1]}  batch '
          f'{args.batch_size}  {describe_run(args, device)}')
    print(results_table(contenders))


if __name__ == '__main__':
    run(parse_args())
