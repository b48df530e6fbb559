"""Soak test: train for a long while with data-loader workers and sample the
memory of the training process and its workers over time.

    python tools/analysis_tools/soak.py \
        configs/synthetic/retinanet_r18-c32_fpn_semfpn_synthetic.py \
        --iters 3000 --workers 4 --work-dir work_dirs/soak

runs ``tools/train.py`` on the config (validation and checkpoints only at
the end), samples every ``--interval`` seconds the training process's RSS
and the proportional set size (PSS: shared pages split between the
processes that share them) of it and all its descendants, from ``/proc``
(Linux), writes the samples to ``<work-dir>/memory.csv`` and prints the
growth: the least-squares slope in MiB per 1000 iterations over the samples
after ``--settle`` of the iterations (the first iterations fill caches and
allocator pools), and the first and last values. A leak shows as a slope
that stays positive however long the run.
"""
import argparse
import csv
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FIELDS = ['seconds', 'iter', 'main_rss_mib', 'main_pss_mib',
          'workers_pss_mib', 'total_pss_mib', 'processes']


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--iters', type=int, default=3000)
    parser.add_argument('--workers', type=int, default=4)
    parser.add_argument('--interval', type=float, default=10.0,
                        help='seconds between samples')
    parser.add_argument('--settle', type=float, default=0.2,
                        help='fraction of the iterations left out of the '
                        'slope')
    parser.add_argument('--work-dir', default='work_dirs/soak')
    parser.add_argument('--cfg-options', nargs='+', default=[])
    return parser.parse_args(argv)


def _kib_field(path: str, field: str) -> int:
    """A ``field:  N kB`` line of a /proc file, in KiB (0 if gone)."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def descendants(pid: int) -> list:
    """Every process below ``pid`` (data-loader workers and theirs)."""
    found, queue = [], [pid]
    while queue:
        parent = queue.pop()
        for path in glob.glob(f'/proc/{parent}/task/*/children'):
            try:
                with open(path) as f:
                    kids = [int(k) for k in f.read().split()]
            except FileNotFoundError:
                continue
            found += kids
            queue += kids
    return found


def last_iter(work_dir: str) -> int:
    """The last logged training iteration (0 before the first log line)."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    if not files:
        return 0
    it = 0
    with open(files[-1]) as f:
        for line in f:
            it = max(it, json.loads(line).get('iter', 0))
    return it


def sample(pid: int, start: float, work_dir: str) -> dict:
    kids = descendants(pid)
    main_pss = _kib_field(f'/proc/{pid}/smaps_rollup', 'Pss') / 1024
    workers = sum(_kib_field(f'/proc/{k}/smaps_rollup', 'Pss')
                  for k in kids) / 1024
    return dict(seconds=round(time.time() - start, 1),
                iter=last_iter(work_dir),
                main_rss_mib=round(
                    _kib_field(f'/proc/{pid}/status', 'VmRSS') / 1024, 1),
                main_pss_mib=round(main_pss, 1),
                workers_pss_mib=round(workers, 1),
                total_pss_mib=round(main_pss + workers, 1),
                processes=1 + len(kids))


def train_command(args) -> list:
    n = args.iters
    options = [f'train_cfg.max_iters={n}', f'train_cfg.val_interval={n}',
               f'default_hooks.checkpoint.interval={n}',
               f'train_dataloader.num_workers={args.workers}',
               f'train_dataloader.persistent_workers={args.workers > 0}',
               'default_hooks.logger.interval=10'] + args.cfg_options
    return [sys.executable, osp.join(REPO, 'tools', 'train.py'),
            args.config, '--work-dir', args.work_dir, '--cfg-options',
            *options]


def slope_per_1000_iters(samples: list, key: str, settle_iter: float):
    """Least-squares MiB per 1000 iterations over the settled samples."""
    pts = [(s['iter'], s[key]) for s in samples
           if settle_iter <= s['iter']]
    if len(pts) < 2 or pts[0][0] == pts[-1][0]:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    sxy = sum((x - mx) * (y - my) for x, y in pts)
    return 1000 * sxy / sxx


def report(samples: list, args) -> str:
    """Growth while training (validation at the end has its own workers
    and is left out)."""
    samples = [s for s in samples if s['iter'] < args.iters] or samples
    settle = args.settle * args.iters
    most = max(s['processes'] for s in samples)
    lines = [f'{len(samples)} samples, iterations {samples[0]["iter"]}-'
             f'{samples[-1]["iter"]}, up to {most} processes; slope over '
             f'iterations >= {settle:.0f}']
    for key in FIELDS[2:6]:
        settled = [s[key] for s in samples if s['iter'] >= settle]
        slope = slope_per_1000_iters(samples, key, settle)
        lines.append(
            f'{key}: first settled '
            f'{settled[0] if settled else "n/a"}, last {samples[-1][key]}, '
            f'max {max(s[key] for s in samples)}, slope '
            f'{"n/a" if slope is None else f"{slope:+.1f}"} MiB / 1000 '
            'iterations')
    return '\n'.join(lines)


def main(argv=None) -> list:
    args = parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    log = open(osp.join(args.work_dir, 'soak_train.log'), 'w')
    proc = subprocess.Popen(train_command(args), cwd=REPO, stdout=log,
                            stderr=subprocess.STDOUT)
    start, samples = time.time(), []
    while proc.poll() is None:
        samples.append(sample(proc.pid, start, args.work_dir))
        print(json.dumps(samples[-1]), flush=True)
        time.sleep(args.interval)
    log.close()
    if proc.returncode != 0:
        sys.exit(f'training failed (exit {proc.returncode}): see '
                 f'{osp.join(args.work_dir, "soak_train.log")}')
    with open(osp.join(args.work_dir, 'memory.csv'), 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(samples)
    print(report(samples, args))
    return samples


if __name__ == '__main__':
    main()
