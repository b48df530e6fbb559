"""Plot the training curves of mmmtl runs; average iteration time.

Follows mmdet's ``tools/analysis_tools/analyze_logs.py``, reading the
scalars mmengine writes to ``<work_dir>/<timestamp>/vis_data/scalars.json``
(one JSON object a line):

    python tools/analysis_tools/analyze_logs.py plot_curve RUN [RUN ...] \
        [--keys KEY ...] [--legend NAME ...] [--title TITLE] [--out FILE.png]
    python tools/analysis_tools/analyze_logs.py cal_train_time RUN [RUN ...]

A RUN is a work dir (the scalars.json of all its sessions, a resumed one
continuing the run) or a scalars.json file. Several RUNs are drawn on the
same axes to compare them.

Without ``--keys`` the figure has one panel per group: per-task losses
(``det.loss``, ``seg.loss``), task weights (``weight.*``), pairwise
gradient cosines (``cos.*``) and per-task gradient norms (``grad_norm.*``),
logged by MultiTaskOptimWrapper, and each main validation metric
(``coco/bbox_mAP``, ``seg/mIoU``, ...). ``--keys`` draws
the given keys on one panel; a key is a scalar's name (``det.loss_cls``),
the part after '/' of a metric (``bbox_mAP``, as mmdet), or a glob pattern
(``'weight.*'``). The x axis is the training iteration; validation metrics
logged by epoch are put at the last logged iteration before them.
"""
import argparse
import fnmatch
import glob
import json
import os.path as osp
import re
import sys
from collections import OrderedDict, namedtuple
from typing import Dict, List, Optional, Sequence, Tuple

# a series of one scalar: the iterations and the values logged there
Series = Tuple[List[int], List[float]]
Curve = namedtuple('Curve', 'label run key steps values')
Panel = namedtuple('Panel', 'title curves')

TRAIN_ONLY_KEYS = ('time', 'data_time')  # val lines average their own time
POSITION_KEYS = ('step', 'iter', 'epoch')
# main validation metric of each kind of task (the part after '/')
MAIN_METRICS = ('bbox_mAP', 'segm_mAP', 'mIoU', 'accuracy', 'top1')
LINESTYLES = ('-', '--', ':', '-.')


def find_scalars_files(run: str) -> List[str]:
    """The scalars.json files of RUN: the file itself, or those of every
    session (``<timestamp>/vis_data/scalars.json``) of a work dir, oldest
    first."""
    if osp.isfile(run):
        return [run]
    if not osp.isdir(run):
        raise FileNotFoundError(f'{run}: no such work dir or file')
    files = sorted(glob.glob(osp.join(run, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(
            f'{run} has no <timestamp>/vis_data/scalars.json: was it '
            'trained with a LocalVisBackend in the visualizer?')
    return files


def load_scalars_file(path: str) -> Dict[str, Series]:
    """Every numeric scalar of one scalars.json: key -> (steps, values).

    Training lines (those with ``iter``) are at their ``step``. Validation
    lines logged by epoch (``step`` smaller than the last training step) are
    moved to the last logged training step; their ``time`` and
    ``data_time`` are dropped, so those keys are training times only.
    """
    series: Dict[str, Series] = OrderedDict()
    last_train_step = None
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            record = json.loads(line)
            step = record.get('step', last_train_step or 0)
            is_train = 'iter' in record
            if is_train:
                last_train_step = step
            elif last_train_step is not None:
                step = max(step, last_train_step)
            for key, value in record.items():
                if (key in POSITION_KEYS or isinstance(value, bool)
                        or not isinstance(value, (int, float))
                        or (not is_train and key in TRAIN_ONLY_KEYS)):
                    continue
                steps, values = series.setdefault(key, ([], []))
                steps.append(step)
                values.append(float(value))
    return series


def load_run(run: str) -> Dict[str, Series]:
    """The scalars of a run over all its sessions: a later session (a
    resumed run) replaces what an earlier one logged from its first step
    on."""
    merged: Dict[str, Series] = OrderedDict()
    for path in find_scalars_files(run):
        session = load_scalars_file(path)
        starts = [steps[0] for steps, _ in session.values() if steps]
        start = min(starts) if starts else float('inf')
        for key in list(merged):
            steps, values = merged[key]
            keep = [i for i, s in enumerate(steps) if s < start]
            merged[key] = ([steps[i] for i in keep], [values[i] for i in keep])
        for key, (steps, values) in session.items():
            old_steps, old_values = merged.get(key, ([], []))
            merged[key] = (old_steps + steps, old_values + values)
    return merged


def run_name(run: str) -> str:
    """A short name of a run: its work dir's name."""
    path = osp.normpath(run)
    parts = path.split(osp.sep)
    if (len(parts) >= 4 and parts[-1].endswith('.json')
            and parts[-2] == 'vis_data'):
        return parts[-4]  # <work_dir>/<timestamp>/vis_data/scalars.json
    return osp.basename(path)


def match_key(pattern: str, available: Sequence[str]) -> List[str]:
    """The keys PATTERN names: itself, the metric whose name after '/' it
    is (mmdet's ``bbox_mAP`` for ``coco/bbox_mAP``), or a glob's matches."""
    if pattern in available:
        return [pattern]
    by_suffix = [k for k in available if k.split('/', 1)[-1] == pattern]
    if by_suffix:
        return by_suffix
    return sorted(k for k in available if fnmatch.fnmatchcase(k, pattern))


def select_keys(patterns: Sequence[str],
                available: Sequence[str]) -> List[str]:
    """The keys that PATTERNS name, in their order; ValueError naming the
    pattern and the available keys for one that names none."""
    keys: List[str] = []
    for pattern in patterns:
        matches = match_key(pattern, available)
        if not matches:
            raise ValueError(
                f"no logged scalar matches key '{pattern}'; available keys: "
                f"{', '.join(sorted(available))}")
        keys += [k for k in matches if k not in keys]
    return keys


def default_panels(available: Sequence[str]) -> List[Tuple[str, List[str]]]:
    """(title, keys) of the default figure's panels: task losses, task
    weights, gradient cosines, per-task gradient norms and one panel per
    main validation metric (every validation metric where none is a main
    one). Empty groups are left out."""
    keys = sorted(available)
    metrics = [k for k in keys if '/' in k]
    main_metrics = [k for k in metrics
                    if k.rsplit('/', 1)[-1] in MAIN_METRICS] or metrics
    groups = [
        ('task losses', [k for k in keys if re.fullmatch(r'[^./]+\.loss', k)]),
        ('task weights', [k for k in keys if k.startswith('weight.')]),
        ('gradient cosines', [k for k in keys if k.startswith('cos.')]),
        ('gradient norms', [k for k in keys if k.startswith('grad_norm.')]),
    ] + [(metric, [metric]) for metric in main_metrics]
    return [(title, group) for title, group in groups if group]


def curve_labels(names: Sequence[str], keys: Sequence[str],
                 legend: Optional[Sequence[str]]
                 ) -> Dict[Tuple[int, str], str]:
    """Label of each (run index, key). By default the key, prefixed by the
    run's name where there are several runs. ``--legend`` gives either one
    label per run and key, run by run (mmdet's convention), or one name per
    run (label 'NAME KEY')."""
    pairs = [(i, j, key) for i in range(len(names))
             for j, key in enumerate(keys)]
    if legend is None:
        return {(i, key): key if len(names) == 1 else f'{names[i]} {key}'
                for i, _, key in pairs}
    if len(legend) == len(names) * len(keys):
        return {(i, key): legend[i * len(keys) + j] for i, j, key in pairs}
    if len(legend) == len(names):
        return {(i, key): f'{legend[i]} {key}' for i, _, key in pairs}
    raise ValueError(
        f'--legend has {len(legend)} names: give one per run '
        f'({len(names)}) or one per run and key ({len(names)} x '
        f'{len(keys)} = {len(names) * len(keys)})')


def collect_curves(runs: 'OrderedDict[str, Dict[str, Series]]',
                   keys: Optional[Sequence[str]] = None,
                   legend: Optional[Sequence[str]] = None) -> List[Panel]:
    """The panels to draw from the scalars of each run (name -> scalars).

    With KEYS, one panel of those keys (names, metric names or globs;
    ValueError for one matching nothing in any run); without, the default
    groups. A run missing a key simply has no curve for it.
    """
    available = sorted({k for scalars in runs.values() for k in scalars})
    if keys:
        selected = select_keys(keys, available)
        groups = [(', '.join(keys), selected)]
    else:
        groups = default_panels(available)
        if not groups:
            raise ValueError('no task losses, task weights, gradient '
                             'cosines or norms, or validation metrics in the '
                             f"logs; available keys: {', '.join(available)}")
    names = list(runs)
    all_keys = [k for _, group in groups for k in group]
    labels = curve_labels(names, all_keys, legend)
    panels = []
    for title, group in groups:
        curves = [Curve(labels[i, key], name, key, *runs[name][key])
                  for i, name in enumerate(names) for key in group
                  if key in runs[name]]
        panels.append(Panel(title, curves))
    return panels


def draw_panel(ax, panel: Panel, run_order: Sequence[str]) -> None:
    """One panel: a colour per run (per key where there is one run), a
    line style per key, dots for validation metrics."""
    keys = list(OrderedDict.fromkeys(c.key for c in panel.curves))
    several_runs = len(run_order) > 1
    for curve in panel.curves:
        run_idx, key_idx = run_order.index(curve.run), keys.index(curve.key)
        color = run_idx if several_runs else key_idx
        ax.plot(curve.steps, curve.values, label=curve.label,
                color=f'C{color % 10}',
                linestyle=LINESTYLES[key_idx % len(LINESTYLES)]
                if several_runs else '-',
                marker='o' if '/' in curve.key else None, linewidth=1.0)
    if panel.title == 'gradient cosines':
        ax.axhline(0.0, color='gray', linewidth=0.8)
    ax.set_title(panel.title)
    ax.set_xlabel('iter')
    ax.grid(alpha=0.3)
    ax.legend(fontsize='small')


def plot_panels(panels: Sequence[Panel], out: str,
                title: Optional[str] = None) -> None:
    """Draw the panels (two a row, same iteration range) into the PNG
    file OUT."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    ncols = min(2, len(panels))
    nrows = (len(panels) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                             figsize=(6.4 * ncols, 3.8 * nrows))
    curves = [c for p in panels for c in p.curves]
    run_order = list(OrderedDict.fromkeys(c.run for c in curves))
    steps = [s for c in curves for s in c.steps]
    for ax, panel in zip(axes.flat, panels):
        draw_panel(ax, panel, run_order)
        if steps and min(steps) < max(steps):
            pad = 0.02 * (max(steps) - min(steps))
            ax.set_xlim(min(steps) - pad, max(steps) + pad)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def load_runs(run_args: Sequence[str]
              ) -> 'OrderedDict[str, Dict[str, Series]]':
    """Name -> scalars of each RUN argument (its path where names clash)."""
    names = [run_name(r) for r in run_args]
    if len(set(names)) < len(names):
        names = list(run_args)
    return OrderedDict((n, load_run(r)) for n, r in zip(names, run_args))


def default_out(run: str) -> str:
    """curves.png in the first run's work dir (beside a scalars.json)."""
    folder = run if osp.isdir(run) else osp.dirname(osp.abspath(run))
    return osp.join(folder, 'curves.png')


def plot_curve(args) -> None:
    runs = load_runs(args.runs)
    panels = collect_curves(runs, args.keys, args.legend)
    out = args.out or default_out(args.runs[0])
    plot_panels(panels, out, args.title)
    for panel in panels:
        print(f"{panel.title}: {', '.join(c.label for c in panel.curves)}")
    print(f'save curve to: {out}')


def train_times(scalars: Dict[str, Series],
                include_outliers: bool = False) -> List[float]:
    """The logged training iteration times; the first one (start-up) is left
    out unless INCLUDE_OUTLIERS."""
    times = scalars.get('time', ([], []))[1]
    return times if include_outliers else times[1:]


def cal_train_time(args) -> None:
    for name, scalars in load_runs(args.runs).items():
        times = train_times(scalars, args.include_outliers)
        if not times:
            raise ValueError(f'{name}: no training iteration time logged')
        mean = sum(times) / len(times)
        print(f'{"-" * 5}Analyze train time of {name}{"-" * 5}')
        print(f'slowest logged time {max(times):.4f} s/iter, '
              f'fastest {min(times):.4f} s/iter')
        print(f'average iter time: {mean:.4f} s/iter\n')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Analyze the logs of runs')
    sub = parser.add_subparsers(dest='task', required=True)
    plot = sub.add_parser('plot_curve', help='plot training curves to a PNG')
    plot.add_argument('runs', nargs='+',
                      help='work dirs or vis_data/scalars.json files')
    plot.add_argument('--keys', nargs='+', default=None,
                      help='scalars to plot on one panel (names, metric '
                      "names, globs such as 'weight.*'); default: task "
                      'losses, task weights, gradient cosines, gradient '
                      'norms and validation metrics, one panel each')
    plot.add_argument('--legend', nargs='+', default=None,
                      help='one name per run, or one label per run and key')
    plot.add_argument('--title', default=None, help='title of the figure')
    plot.add_argument('--out', default=None,
                      help='PNG to write (default: curves.png in the first '
                      "run's work dir)")
    times = sub.add_parser('cal_train_time',
                           help='average time of a training iteration')
    times.add_argument('runs', nargs='+',
                       help='work dirs or vis_data/scalars.json files')
    times.add_argument('--include-outliers', action='store_true',
                       help='include the first logged time')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        {'plot_curve': plot_curve, 'cal_train_time': cal_train_time}[
            args.task](args)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f'error: {e}')


if __name__ == '__main__':
    main()
