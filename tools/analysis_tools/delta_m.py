"""Multi-task gain (delta-m) of a multi-task run against single-task runs.

    python tools/analysis_tools/delta_m.py MULTI_TASK_RUN BASELINE_RUN \
        [BASELINE_RUN ...] [--metric TASK=KEY ...] [--lower-is-better KEY ...]
        [--json OUT.json]

A RUN is a work dir of tools/train.py / tools/test.py (its metrics.json),
that JSON file itself, or several runs of one setting (seeds): a glob
pattern or a comma-separated list, e.g. 'work_dirs/ew_seed*'. Prints per
task the primary metric (detection coco/bbox_mAP, segmentation seg/mIoU,
classification cls/accuracy; --metric overrides) of the multi-task run and
its baseline, mean +- std over seeds, the relative change, and last
``delta-m: X.XX%`` (Maninis et al. 2019; mmmtl/evaluation/delta_m.py).
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmmtl.evaluation.delta_m import compare, expand_runs, load_run  # noqa


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('multi_task_run')
    p.add_argument('baseline_runs', nargs='+')
    p.add_argument('--metric', nargs='+', default=[], metavar='TASK=KEY',
                   help="a task's metric instead of its default")
    p.add_argument('--lower-is-better', nargs='+', default=[],
                   metavar='KEY', help='metrics for which lower is better '
                   '(beyond names with loss, rmse, abs_rel, error ...)')
    p.add_argument('--json', help='also write the comparison to this file')
    return p.parse_args(argv)


def _fmt(mean_std, runs):
    mean, std = mean_std
    return f'{mean:.4f}' + (f' +- {std:.4f} ({runs})' if runs > 1 else '')


def main(argv=None):
    args = parse_args(argv)
    metrics = dict(m.split('=', 1) for m in args.metric)
    try:
        multi = [load_run(p) for p in expand_runs(args.multi_task_run)]
        baselines = [[load_run(p) for p in expand_runs(b)]
                     for b in args.baseline_runs]
        result = compare(multi, baselines, metrics, args.lower_is_better)
    except (OSError, ValueError, KeyError, ZeroDivisionError) as err:
        sys.exit(f'error: {err}')
    print(f'{"task":<8} {"metric":<18} {"multi-task":>24} '
          f'{"baseline":>24} {"change":>8}')
    for t in result['tasks']:
        arrow = ' (lower is better)' if t['lower_is_better'] else ''
        print(f'{t["task"]:<8} {t["metric"]:<18} '
              f'{_fmt(t["multi"], t["runs"][0]):>24} '
              f'{_fmt(t["baseline"], t["runs"][1]):>24} '
              f'{100 * t["change"]:>+7.2f}%{arrow}')
    mean, std = result['delta_m']
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=1)
    spread = f' (std {100 * std:.2f}%, {len(multi)} runs)' \
        if len(multi) > 1 else ''
    print(f'delta-m: {100 * mean:.2f}%{spread}')
    return result


if __name__ == '__main__':
    main()
