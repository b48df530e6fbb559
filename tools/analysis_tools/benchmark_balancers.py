"""Step time and peak memory of each task balancer against equal weighting.

Every method trains the same model on the same batch; measurements are
interleaved (one step of each method per round, several rounds) so that
machine noise hits all methods alike, and the table prints the median step
time as a ratio to equal weighting measured in the same run. For gradient
methods it also times torchjd's own ``mtl_backward`` + ``jac_to_grad`` path
with the same aggregator on the same model.

    python tools/analysis_tools/benchmark_balancers.py CONFIG \
        [--img-size H W] [--batch-size N] [--rounds R] [--amp] \
        [--methods EqualWeighting DWA PCGrad ...] [--modes feature parameter]
"""
import argparse
import copy
import gc
import os.path as osp
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402

import mmmtl  # noqa: E402,F401
from mmdet.registry import MODELS  # noqa: E402
from mmdet.utils import register_all_modules  # noqa: E402

from mmmtl.utils.random_batch import random_batch  # noqa: E402

LOSS_METHODS = ['StaticWeighting', 'UncertaintyWeighting', 'DWA', 'RLW',
                'GLS', 'FAMO']
GRAD_METHODS = ['GradNorm', 'PCGrad', 'GradVac', 'CAGrad', 'MGDA', 'IMTLG',
                'NashMTL', 'AlignedMTL', 'UPGrad', 'DualProj', 'ConFIG',
                'FairGrad', 'GradDrop', 'DBMTL']
# torchjd aggregators to compare our path with (same method, torchjd's API)
TORCHJD_AGGREGATORS = {'UPGrad': 'UPGrad', 'MGDA': 'MGDA', 'PCGrad': 'PCGrad',
                       'IMTLG': 'IMTLG', 'AlignedMTL': 'AlignedMTL',
                       'DualProj': 'DualProj'}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('--img-size', type=int, nargs=2, default=None,
                   help='input H W (default: from the config)')
    p.add_argument('--batch-size', type=int, default=4)
    p.add_argument('--rounds', type=int, default=10)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--amp', action='store_true')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available()
                   else 'cpu')
    p.add_argument('--methods', nargs='+', default=None)
    p.add_argument('--modes', nargs='+', default=['feature', 'parameter'])
    p.add_argument('--no-torchjd', action='store_true')
    return p.parse_args()


class Candidate:
    """One way of doing a training step, with its own model copy."""

    def __init__(self, name, model, step_fn):
        self.name, self.model, self.step_fn = name, model, step_fn
        self.times, self.peak = [], 0.0


def build_candidates(args, cfg, device):
    torch.manual_seed(0)
    base = MODELS.build(cfg.model)
    base.init_weights()
    base.to(device).train()
    methods = args.methods or (['EqualWeighting'] + LOSS_METHODS +
                               GRAD_METHODS)
    if 'EqualWeighting' not in methods:
        methods = ['EqualWeighting'] + methods
    cands = []
    for method in methods:
        from mmmtl.registry import BALANCERS
        cls = BALANCERS.get(method)
        if cls is None:
            print(f'skip {method}: not registered')
            continue
        modes = ['-'] if cls.requires == 'losses' else args.modes
        for mode in modes:
            model = copy.deepcopy(base)
            wcfg = dict(type='MultiTaskOptimWrapper',
                        constructor='MultiTaskOptimWrapperConstructor',
                        optimizer=dict(type='SGD', lr=1e-4, momentum=0.9),
                        balancer=dict(type=method), amp=args.amp,
                        log_cosine=False)
            if mode != '-':
                wcfg['jacobian_mode'] = mode
            try:
                wrapper = build_optim_wrapper(model, wcfg)
            except ImportError as e:
                print(f'skip {method}: {e}')
                continue
            forced = getattr(wrapper.balancer, 'jacobian_mode', None)
            if forced and forced != mode:
                continue
            label = method if mode == '-' else f'{method} [{mode}]'
            cands.append(Candidate(
                label, model,
                lambda b, m=model, w=wrapper: m.train_step(b, w)))
        if not args.no_torchjd and method in TORCHJD_AGGREGATORS:
            cands.append(torchjd_candidate(base, method, args))
    return cands


def torchjd_candidate(base, method, args):
    """torchjd's own path: mtl_backward on the shared features, then
    jac_to_grad on the shared parameters with the same aggregator."""
    import torchjd.aggregation as agg
    from torchjd.autojac import jac_to_grad, mtl_backward
    model = copy.deepcopy(base)
    aggregator = getattr(agg, TORCHJD_AGGREGATORS[method])()
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    shared = [p for m in model.shared_modules() for p in m.parameters()
              if p.requires_grad]
    tasks = [[p for p in t.parameters() if p.requires_grad]
             for t in model.tasks.values()]
    device_type = next(model.parameters()).device.type

    def step(batch):
        ctx = torch.autocast(device_type, dtype=torch.bfloat16
                             if device_type == 'cpu' else torch.float16) \
            if args.amp else torch.autocast(device_type, enabled=False)
        with ctx:
            data = model.data_preprocessor(batch, True)
            feats = model.extract_feat(data['inputs'])
            per_task = model.task_losses(feats, data['data_samples'])
            losses = [model.parse_losses(v)[0] for v in per_task.values()]
        # parallel_chunk_size=1: one vjp per task, no vmap (torchjd's
        # vmapped backward fails on these mmdet/mmseg graphs)
        mtl_backward(losses, features=list(feats), tasks_params=tasks,
                     shared_params=shared, parallel_chunk_size=1,
                     retain_graph=True)
        jac_to_grad(shared, aggregator)
        opt.step()
        opt.zero_grad()

    return Candidate(f'torchjd mtl_backward {method}', model, step)


def run(args):
    register_all_modules()
    cfg = Config.fromfile(args.config)
    drop_pretrained(cfg.model)
    device = torch.device(args.device)
    size = tuple(args.img_size) if args.img_size else tuple(
        cfg.get('img_scale', (128, 128)))[::-1]
    det = cfg.model.tasks.det.head.num_classes
    seg = cfg.model.tasks.seg.head.num_classes
    batch = random_batch(args.batch_size, size=size, num_det=det,
                         num_seg=seg)
    cands = build_candidates(args, cfg, device)
    sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)

    def one(c):
        b = copy.deepcopy(batch)
        sync()
        t0 = time.perf_counter()
        c.step_fn(b)
        sync()
        return time.perf_counter() - t0

    for c in cands:
        for _ in range(args.warmup):
            one(c)
    for _ in range(args.rounds):
        for c in cands:
            c.times.append(one(c))
        gc.collect()
    # memory: one more step of each, apart from the timed ones (the CPU
    # measurement runs under the profiler, which slows the step)
    for c in cands:
        c.peak = step_peak_memory(c, batch, device) / 2**20
    ref = statistics.median(cands[0].times)
    ref_mem = cands[0].peak
    print(f'\nmodel: {args.config}  input {size[0]}x{size[1]}  batch '
          f'{args.batch_size}  device {device}'
          f'{" (" + torch.cuda.get_device_name() + ")" if device.type == "cuda" else ""}'
          f'  amp {args.amp}  rounds {args.rounds}')
    print('| method | step (ms) | x equal weighting | step memory (MiB) '
          '| x equal weighting |')
    print('|---|---:|---:|---:|---:|')
    for c in cands:
        t = statistics.median(c.times)
        print(f'| {c.name} | {1000 * t:.1f} | {t / ref:.2f} | {c.peak:.0f} '
              f'| {c.peak / ref_mem:.2f} |')


def drop_pretrained(node):
    """Remove ``init_cfg=dict(type='Pretrained', ...)`` everywhere in a
    model config: step times do not depend on the weights' values, and the
    machine may have no network to fetch them."""
    if isinstance(node, dict):
        init = node.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            node.pop('init_cfg')
        for value in node.values():
            drop_pretrained(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            drop_pretrained(value)


def step_peak_memory(cand, batch, device):
    """Peak bytes allocated during one training step above what was held
    before it (activations, gradients, Jacobians; not the weights or the
    optimizer state). CUDA: the caching allocator's peak counter. CPU: the
    allocation events recorded by the PyTorch profiler, summed in order."""
    b = copy.deepcopy(batch)
    if device.type == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        held = torch.cuda.memory_allocated()
        cand.step_fn(b)
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - held
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) \
            as prof:
        cand.step_fn(b)
    events = sorted((e for e in prof.profiler.kineto_results.events()
                     if e.name() == '[memory]'
                     and e.device_type() == torch.autograd.DeviceType.CPU),
                    key=lambda e: e.start_ns())
    live = peak = 0
    for e in events:
        live += e.nbytes()
        peak = max(peak, live)
    return peak

if __name__ == '__main__':
    run(parse_args())
