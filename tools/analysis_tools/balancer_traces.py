"""Per-step traces of a balancer's task weights and gradient norms.

Trains CONFIG as ``tools/train.py`` does (same config loading and
``--cfg-options``) and records, at every iteration, what the optim wrapper
put in mmengine's MessageHub: the task weights (``weight.<task>``), the
total gradient norm ``clip_grad`` measured (``grad_norm``), the per-task
gradient norms and cosines (``grad_norm.<task>``, ``cos.<a>-<b>``, gradient
methods only) and the task losses. Writes them to
``<work_dir>/balancer_trace.jsonl`` (one JSON object per iteration) and
prints a summary, one line per window of iterations:

    python tools/analysis_tools/balancer_traces.py CONFIG --work-dir DIR \
        [--window 50] [--cfg-options optim_wrapper.balancer.type=NashMTL \
         optim_wrapper.jacobian_mode=parameter train_cfg.max_iters=300 ...]

``--summary FILE.jsonl [...] [--max-norm 10]`` prints the summary of
traces already written. ``--summary WORK_DIR [...]`` reads the scalars that every
training run logs (``<timestamp>/vis_data/scalars.json``, those of a
resumed run joined; one row per ``log_interval`` iterations, each the mean
over those iterations; validation rows left out), so any finished run,
e.g. one of ``tools/analysis_tools/mtl_results.py``, gives its trace
over the whole schedule; ``--window`` then counts logged rows.

``--summary WORK_DIR [...] --table`` prints one Markdown row per run
instead: the median weights in each quarter of the run, the lowest ratio
of the smallest to the largest logged weight, the median per-task gradient
norms and total ``grad_norm`` of the first and last quarter, and the
run's final metrics (``<work_dir>/metrics.json``, written by
``tools/train.py``; ``--metrics`` picks them). The tables of
docs/balancers.md are made this way.
"""
import argparse
import glob
import json
import os.path as osp
import statistics
import sys
from typing import Dict, List

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

from mmengine.config import DictAction  # noqa: E402

#: MessageHub scalars recorded (prefix ``train/``)
PREFIXES = ('weight.', 'grad_norm', 'cos.')


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config', nargs='?')
    p.add_argument('--work-dir')
    p.add_argument('--window', type=int, default=50)
    p.add_argument('--summary', nargs='+', metavar='TRACE_OR_WORK_DIR',
                   help='summarise these trace files (or the logged '
                   'scalars of these work dirs) instead')
    p.add_argument('--max-norm', type=float,
                   help="with --summary: clip_grad's max_norm, to count "
                   'the clipped steps')
    p.add_argument('--table', action='store_true',
                   help='with --summary: one Markdown row per run')
    p.add_argument('--metrics', nargs='+',
                   default=['coco/bbox_mAP', 'seg/mIoU'],
                   help="with --table: the metrics.json keys to show")
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args()


def make_recorder(path: str):
    """A hook writing one JSON line per training iteration."""
    from mmengine.hooks import Hook
    from mmengine.logging import MessageHub

    class TraceRecorder(Hook):
        priority = 'LOWEST'

        def before_train(self, runner):
            self.file = open(path, 'w')

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            hub = MessageHub.get_current_instance()
            row = {'iter': runner.iter}
            for key, buf in hub.log_scalars.items():
                name = key[len('train/'):]
                if key.startswith('train/') and name.startswith(PREFIXES):
                    row[name] = float(buf.current())
            for key, value in (outputs or {}).items():
                if key.endswith('.loss') or key == 'loss':
                    row[key] = float(value)
            self.file.write(json.dumps(row) + '\n')
            self.file.flush()

        def after_train(self, runner):
            self.file.close()

    return TraceRecorder()


def _fmt(values: List[float]) -> str:
    if not values:
        return '-'
    lo, med, hi = min(values), statistics.median(values), max(values)
    return f'{med:.3g} [{lo:.3g}, {hi:.3g}]'


def summarise(rows: List[Dict[str, float]], window: int,
              max_norm: float = None, per_step: bool = True) -> List[str]:
    """One line per window: median [min, max] of every weight and of the
    total gradient norm, the share of clipped steps, and the steps where a
    weight is at most 1% of the largest. Rows of logged means
    (``per_step=False``) count rows, not steps."""
    tasks = sorted(k[len('weight.'):] for k in rows[0] if
                   k.startswith('weight.')) if rows else []
    lines = []
    for start in range(0, len(rows), window):
        part = rows[start:start + window]
        cells = [f'iters {part[0]["iter"]}-{part[-1]["iter"]}']
        for t in tasks:
            cells.append(f'w.{t} ' + _fmt([r[f'weight.{t}'] for r in part
                                           if f'weight.{t}' in r]))
        norms = [r['grad_norm'] for r in part if 'grad_norm' in r]
        cells.append('grad_norm ' + _fmt(norms))
        if max_norm and norms:
            clipped = sum(n > max_norm for n in norms)
            cells.append(f'clipped {clipped}/{len(norms)}' if per_step else
                         f'means above max_norm {clipped}/{len(norms)}')
        low = sum(any(r.get(f'weight.{t}', 1) <= 0.01 * max(
            r.get(f'weight.{k}', 0) for k in tasks) for t in tasks)
            for r in part)
        cells.append(f'low-weight {"steps" if per_step else "means"} {low}')
        lines.append(' | '.join(cells))
    return lines


def _quarters(rows: list) -> list:
    size = max(1, -(-len(rows) // 4))
    return [rows[i:i + size] for i in range(0, len(rows), size)]


def _median_of(rows: list, keys: List[str]) -> str:
    """``a / b`` (one median per key), ``-`` for a key never logged."""
    cells = []
    for key in keys:
        values = [r[key] for r in rows if key in r]
        cells.append(f'{statistics.median(values):.3g}' if values else '-')
    return ' / '.join(cells)


def table_row(name: str, rows: List[Dict[str, float]],
              metrics: Dict[str, float]) -> str:
    """One run's Markdown row (see the module doc); ``metrics`` in the
    order of the header's metric columns."""
    tasks = sorted(k[len('weight.'):] for k in rows[0]
                   if k.startswith('weight.'))
    weights = [f'weight.{t}' for t in tasks]
    parts = _quarters(rows)
    cells = [name] + [_median_of(q, weights) for q in parts]
    cells += ['-'] * (4 - len(parts))
    low = min(min(r[k] for k in weights) / max(r[k] for k in weights)
              if max(r[k] for k in weights) > 0 else 0.0 for r in rows)
    cells.append(f'{low:.3g}')
    norms = [f'grad_norm.{t}' for t in tasks]
    for keys in (norms, ['grad_norm']):
        cells.append(f'{_median_of(parts[0], keys)} → '
                     f'{_median_of(parts[-1], keys)}')
    cells += [f'{v:.4g}' if v is not None else '-' for v in metrics.values()]
    return '| ' + ' | '.join(cells) + ' |'


def table_header(tasks: List[str], metric_keys: List[str]) -> List[str]:
    names = ' / '.join(tasks)
    cols = (['run'] + [f'weights {names}, quarter {i}' for i in range(1, 5)]
            + ['lowest w_min / w_max', f'task grad norms {names}, first → '
               'last quarter', 'grad_norm, first → last quarter']
            + metric_keys)
    return ['| ' + ' | '.join(cols) + ' |', '|' + '---|' * len(cols)]


def run_metrics(work_dir: str, keys: List[str]) -> Dict[str, float]:
    """The final metrics a run wrote to ``metrics.json`` (None where
    missing)."""
    path = osp.join(work_dir, 'metrics.json')
    found = {}
    if osp.exists(path):
        with open(path) as f:
            found = json.load(f).get('val', {}).get('metrics', {})
    return {k: found.get(k) for k in keys}


def load_rows(path: str) -> List[Dict[str, float]]:
    """The training rows of a trace file, or of a work dir's logged
    ``<timestamp>/vis_data/scalars.json`` (rows that log task weights; a
    resumed run's files joined, a later file's row replacing an earlier
    one of the same iteration)."""
    if not osp.isdir(path):
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    found = sorted(glob.glob(osp.join(path, '*', 'vis_data',
                                      'scalars.json')))
    if not found:
        sys.exit(f'error: {path} has no <timestamp>/vis_data/scalars.json '
                 '(not a work dir of a training run?)')
    by_iter = {}
    for name in found:
        with open(name) as f:
            for row in (json.loads(line) for line in f if line.strip()):
                if any(k.startswith('weight.') for k in row):
                    by_iter[row['iter']] = row
    return [by_iter[i] for i in sorted(by_iter)]


def print_table(work_dirs: List[str], metric_keys: List[str]) -> None:
    """The Markdown table of these runs' work dirs."""
    runs = [(path, load_rows(path)) for path in work_dirs]
    empty = [path for path, rows in runs if not rows]
    if empty:
        sys.exit(f'error: no logged task weights in {empty} (did the runs '
                 'log a training iteration?)')
    tasks = sorted(k[len('weight.'):] for k in runs[0][1][0]
                   if k.startswith('weight.'))
    print('\n'.join(table_header(tasks, metric_keys)))
    for path, rows in runs:
        # e.g. demo-parameter/NashMTL/seed0: results folder, setting, seed
        path = osp.abspath(path)
        name = '/'.join(path.split(osp.sep)[-3:])
        print(table_row(name, rows, run_metrics(path, metric_keys)))


def main():
    args = parse_args()
    if args.table and not args.summary:
        sys.exit('error: --table needs --summary WORK_DIR [...] (the runs '
                 'to tabulate)')
    if args.summary and args.table:
        print_table(args.summary, args.metrics)
        return
    if args.summary:
        for path in args.summary:
            if len(args.summary) > 1:
                print(f'== {path}')
            print('\n'.join(summarise(load_rows(path), args.window,
                                       args.max_norm,
                                       per_step=not osp.isdir(path))))
        return
    if not args.config:
        sys.exit('error: give CONFIG, or --summary FILE')
    from mmengine.runner import Runner

    import mmmtl  # noqa: F401  (registers mmmtl's modules)
    from mmmtl.utils.config import load_tool_config
    cfg = load_tool_config(args.config, 'none', args.cfg_options,
                           args.work_dir)
    runner = Runner.from_cfg(cfg)
    path = osp.join(cfg.work_dir, 'balancer_trace.jsonl')
    runner.register_hook(make_recorder(path), priority='LOWEST')
    runner.train()
    with open(path) as f:
        rows = [json.loads(line) for line in f]
    clip = cfg.optim_wrapper.get('clip_grad') or {}
    print(f'mmmtl from {osp.dirname(mmmtl.__file__)}')
    print('\n'.join(summarise(rows, args.window, clip.get('max_norm'))))


if __name__ == '__main__':
    main()
