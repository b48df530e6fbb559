"""Shared pieces of the benchmark scripts under ``tools/analysis_tools/``.

The scripts compare several *contenders* (balancers, or the joint model
against the single-task ones) on one machine in one run. To keep the
comparison fair, :func:`time_interleaved` calls every contender once per
round, in an order that changes from round to round (a Latin square whose
labels are shuffled with a seed, see :func:`round_orders`), warms every
contender up the same way, and keeps every round's time so that medians and
spreads can be reported (:func:`summarize`). :func:`peak_memory` measures
what one call allocates above what was held before it, on CPU and CUDA.
"""
import copy
import gc
import os
import random
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Sequence

import torch

MiB = 2**20


@dataclass
class Contender:
    """One thing to time: ``run(make_input())``; only ``run`` is timed."""

    name: str
    run: Callable[[Any], Any]
    make_input: Callable[[], Any] = lambda: None
    times: List[float] = field(default_factory=list)
    peak_bytes: int = 0


@dataclass
class Summary:
    """Median and spread of a list of values."""

    median: float
    q1: float
    q3: float
    low: float
    high: float


def round_orders(num: int, rounds: int, seed: int = 0) -> List[List[int]]:
    """The order in which ``num`` contenders are called in each round.

    Rows of a Williams Latin square (``0, 1, n-1, 2, n-2, ...`` shifted by
    the round number), cycled when ``rounds > num``, with the contenders'
    labels shuffled once by ``seed``: every contender is called once per
    round, no two consecutive rounds share an order (``num > 1``), and over
    ``num`` rounds every contender takes every position once, so no
    contender is always first (or always right after the same one).
    """
    base, low, high = [0], 1, num - 1
    while len(base) < num:
        base.append(low)
        low += 1
        if len(base) < num:
            base.append(high)
            high -= 1
    labels = list(range(num))
    random.Random(seed).shuffle(labels)
    return [[labels[(b + r) % num] for b in base] for r in range(rounds)]


def sync_function(device: torch.device) -> Callable[[], None]:
    """What to call before reading the clock (waits for CUDA kernels)."""
    if device.type == 'cuda':
        return torch.cuda.synchronize
    return lambda: None


#: ``--clock`` choices: wall-clock time, or the CPU time of the process
#: (all its threads), which other processes on a loaded machine disturb far
#: less (exactly so with one thread: ``--threads 1``)
CLOCKS = {'wall': time.perf_counter, 'cpu': time.process_time}


def time_once(contender: Contender, sync: Callable[[], None],
              clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds taken by one call of the contender (its input is made
    before the clock starts)."""
    arg = contender.make_input()
    sync()
    start = clock()
    contender.run(arg)
    sync()
    return clock() - start


def time_interleaved(contenders: Sequence[Contender], rounds: int,
                     warmup: int = 1, seed: int = 0,
                     sync: Optional[Callable[[], None]] = None,
                     clock: Callable[[], float] = time.perf_counter
                     ) -> List[List[int]]:
    """``warmup`` untimed rounds, then ``rounds`` timed ones, each calling
    every contender once in the order of :func:`round_orders`; each
    contender's times are appended to ``contender.times``.

    Returns:
        The orders of the timed rounds (indices into ``contenders``).
    """
    sync = sync or (lambda: None)
    orders = round_orders(len(contenders), warmup + rounds, seed)
    for index, order in enumerate(orders):
        # once a round, before it (the first position rotates)
        gc.collect()
        for i in order:
            seconds = time_once(contenders[i], sync, clock)
            if index >= warmup:
                contenders[i].times.append(seconds)
    return orders[warmup:]


def format_orders(contenders: Sequence[Contender],
                  orders: Sequence[Sequence[int]]) -> str:
    """One line per round: the contenders' names in the order called,
    separated by ``' > '``."""
    return '\n'.join(
        f'round {number}: ' + ' > '.join(contenders[i].name for i in order)
        for number, order in enumerate(orders, 1))


def summarize(values: Sequence[float]) -> Summary:
    """Median, quartiles and range of ``values`` (one value: all equal)."""
    values = sorted(values)
    if len(values) > 1:
        q1, _, q3 = statistics.quantiles(values, n=4, method='inclusive')
    else:
        q1 = q3 = values[0]
    return Summary(statistics.median(values), q1, q3, values[0], values[-1])


def format_spread(summary: Summary, scale: float = 1.0,
                  digits: int = 1) -> str:
    """``'[q1, q3]'`` of a summary, multiplied by ``scale``."""
    return (f'[{summary.q1 * scale:.{digits}f}, '
            f'{summary.q3 * scale:.{digits}f}]')


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]],
                   left_columns: int = 1) -> str:
    """A markdown table; columns after the first ``left_columns`` are
    right-aligned."""
    align = ['---'] * left_columns + ['---:'] * (len(header) - left_columns)
    lines = ['| ' + ' | '.join(map(str, line)) + ' |'
             for line in [header] + list(rows)]
    lines.insert(1, '|' + '|'.join(align) + '|')
    return '\n'.join(lines)


def peak_memory(run: Callable[[Any], Any], arg: Any,
                device: torch.device) -> int:
    """Peak bytes allocated while ``run(arg)`` runs, above what was held
    before it (activations, gradients, Jacobians; not the weights or the
    optimizer state). CUDA: the caching allocator's peak counter. CPU: the
    allocation events recorded by the PyTorch profiler, summed in order."""
    if device.type == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        held = torch.cuda.memory_allocated()
        run(arg)
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - held
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU],
                 profile_memory=True) as prof:
        run(arg)
    events = sorted((e for e in prof.profiler.kineto_results.events()
                     if e.name() == '[memory]'
                     and e.device_type() == torch.autograd.DeviceType.CPU),
                    key=lambda e: e.start_ns())
    live = peak = 0
    for event in events:
        live += event.nbytes()
        peak = max(peak, live)
    return peak


def measure_peaks(contenders: Sequence[Contender],
                  device: torch.device) -> None:
    """One more (untimed) call of each contender, under the memory
    measurement of :func:`peak_memory` (the profiler slows the call)."""
    for contender in contenders:
        contender.peak_bytes = peak_memory(
            contender.run, contender.make_input(), device)


def drop_pretrained(node: Any) -> None:
    """Remove ``init_cfg=dict(type='Pretrained', ...)`` everywhere in a
    model config: run times do not depend on the weights' values, and the
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


def input_size(cfg, img_size: Optional[Sequence[int]] = None) -> tuple:
    """(H, W) of the benchmark's input: ``img_size`` if given, else the
    config's ``img_scale`` (given as W, H by mmdet's convention)."""
    if img_size:
        return tuple(img_size)
    return tuple(cfg.get('img_scale', (128, 128)))[::-1]


def config_batch(cfg, batch_size: int, size: tuple) -> dict:
    """A random batch (:func:`random_batch`) with the class counts of the
    config's ``det`` and ``seg`` tasks."""
    from mmmtl.utils.random_batch import random_batch
    tasks = cfg.model.tasks
    return random_batch(batch_size, size=size,
                        num_det=tasks.det.head.num_classes,
                        num_seg=tasks.seg.head.num_classes)


def batch_copier(batch: dict) -> Callable[[], dict]:
    """A ``make_input`` giving a fresh copy of ``batch`` at each call (the
    data preprocessor and the heads write into the data samples)."""
    return lambda: copy.deepcopy(batch)


def build_model(model_cfg, device: torch.device, seed: int = 0):
    """The model of ``model_cfg``, initialised from ``seed``, on
    ``device``, in training mode."""
    from mmdet.registry import MODELS
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model.to(device).train()


def add_timing_arguments(parser, rounds: int = 7, warmup: int = 2) -> None:
    """The command-line options both benchmark scripts share."""
    parser.add_argument('--rounds', type=int, default=rounds)
    parser.add_argument('--warmup', type=int, default=warmup,
                        help='untimed rounds (every contender) first')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the order of the calls in the rounds')
    parser.add_argument('--amp', action='store_true')
    parser.add_argument('--device', default='cuda'
                        if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (default: torch\'s own)')
    parser.add_argument('--clock', choices=sorted(CLOCKS), default='wall',
                        help='wall: wall-clock time; cpu: CPU time of the '
                        'process (CPU only; robust to a loaded machine '
                        'with --threads 1)')
    parser.add_argument('--show-order', action='store_true',
                        help='print the order of the calls in each round')


def timing_setup(args) -> torch.device:
    """Apply ``--threads``, check ``--clock`` against ``--device``."""
    device = torch.device(args.device)
    if args.clock == 'cpu' and device.type == 'cuda':
        raise SystemExit('--clock cpu measures CPU work: use it with '
                         '--device cpu (CUDA runs asynchronously)')
    if args.threads:
        torch.set_num_threads(args.threads)
    return device


def run_interleaved(contenders: Sequence[Contender], args,
                    device: torch.device) -> List[List[int]]:
    """:func:`time_interleaved` then :func:`measure_peaks`, as the options
    of :func:`add_timing_arguments` ask; prints the orders if asked."""
    orders = time_interleaved(contenders, args.rounds, args.warmup,
                              args.seed, sync_function(device),
                              CLOCKS[args.clock])
    measure_peaks(contenders, device)
    if args.show_order:
        print(format_orders(contenders, orders))
    return orders


def describe_run(args, device: torch.device) -> str:
    """Device, clock, rounds and AMP of a run, and on CPU the load average
    of the machine (other processes slow wall-clock timings)."""
    if device.type == 'cuda':
        where = f'cuda ({torch.cuda.get_device_name(device)})'
    else:
        load = ', '.join(f'{x:.1f}' for x in os.getloadavg())
        where = (f'cpu ({torch.get_num_threads()} threads, {os.cpu_count()} '
                 f'cores, load average {load})')
    return (f'device {where}  clock {args.clock}  amp {args.amp}  rounds '
            f'{args.rounds} (+{args.warmup} warm-up)')
