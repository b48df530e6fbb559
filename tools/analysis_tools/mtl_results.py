"""Train single-task baselines and balancers over seeds; write the table.

    python tools/analysis_tools/mtl_results.py CONFIG --out DIR \
        [--balancers EqualWeighting UncertaintyWeighting 'NashMTL:jacobian_mode=parameter' ...]
        [--seeds 0 1 2] [--work-root work_dirs/results/NAME]
        [--cfg-options k=v ...] [--no-baselines] [--table-only]
        [--baseline-seeds 0 1 2] [--baselines-from OTHER_DIR]
        [--table-name NAME]

Settings: one single-task baseline per task of CONFIG (``tools/train.py
--tasks T``) and one multi-task run per balancer spec (``TYPE`` or
``TYPE:key=value:key=value``, options of ``optim_wrapper.balancer``), each
for every seed (``randomness.seed``). Every run is ``tools/train.py`` in its
own process, one at a time, logging to ``<work dir>/train.log``; a run is
finished once ``DIR/runs/<setting>_seed<k>.json`` (its metrics.json) exists,
so the script can be stopped and started again: finished runs are skipped,
an interrupted one resumes from its last checkpoint. Writes
``DIR/results.md``, ``results.csv`` and ``results.json`` (``--table-name``
``NAME``: ``NAME.md`` ...): per setting each
task's primary metric (mean +- std over seeds), delta-m against the
baselines, the median step time, and the wall time relative to training
all the single-task baselines.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

from mmmtl.evaluation.results_table import (Setting, build_table,  # noqa
                                            records_folder, write_table)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('--out', required=True,
                   help='folder of the table and the finished runs\' records')
    p.add_argument('--balancers', nargs='*', default=['EqualWeighting'])
    p.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    p.add_argument('--work-root', help='work dirs of the runs (default '
                   'work_dirs/results/<name of --out>)')
    p.add_argument('--cfg-options', nargs='+', default=[],
                   help='passed to every run (e.g. a shorter schedule)')
    p.add_argument('--no-baselines', action='store_true',
                   help='only the balancers (the table then has no delta-m)')
    p.add_argument('--table-only', action='store_true',
                   help='train nothing; write the table from finished runs')
    p.add_argument('--baseline-seeds', nargs='+', type=int,
                   help='seeds of the baselines that delta-m compares '
                   'with (default: --seeds), e.g. one seed per balancer '
                   'against the mean of three baseline seeds')
    p.add_argument('--baselines-from', metavar='DIR',
                   help="read the baselines' finished runs from another "
                   "--out folder instead of training them here, e.g. "
                   "parameter-mode runs against the baselines of the "
                   "default folder (single-task runs have no Jacobian "
                   "mode); none is trained, a missing one is an error")
    p.add_argument('--table-name', default='results',
                   help='file name (no suffix) of the table under --out, '
                   'e.g. for a table of other seeds or balancers beside '
                   'the main one (default: results)')
    return p.parse_args(argv)


def settings_of(args, task_names):
    out = [] if args.no_baselines else [
        Setting.baseline(t) for t in task_names]
    return out + [Setting.balancer(spec) for spec in args.balancers]


def train_command(args, setting, seed, work_dir):
    cmd = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), args.config,
           '--work-dir', work_dir]
    cmd += setting.train_args()
    options = [f'randomness.seed={seed}'] + setting.cfg_options() + \
        list(args.cfg_options)
    return cmd + ['--cfg-options'] + options


def has_checkpoint(work_dir):
    return osp.isfile(osp.join(work_dir, 'last_checkpoint'))


def run_one(args, setting, seed, record, work_root):
    """Train one setting with one seed; copy its metrics.json to record."""
    work_dir = osp.join(work_root, setting.name, f'seed{seed}')
    cmd = train_command(args, setting, seed, work_dir)
    if has_checkpoint(work_dir):
        cmd.insert(cmd.index('--cfg-options'), '--resume')
    os.makedirs(work_dir, exist_ok=True)
    with open(osp.join(work_dir, 'train.log'), 'a') as log:
        log.write('$ ' + ' '.join(cmd) + '\n')
        log.flush()
        code = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT,
                               cwd=ROOT)
    metrics = osp.join(work_dir, 'metrics.json')
    if code != 0 or not osp.isfile(metrics):
        raise RuntimeError(f'{setting.name} seed {seed} failed (exit {code})'
                           f'; see {osp.join(work_dir, "train.log")}')
    os.makedirs(osp.dirname(record), exist_ok=True)
    shutil.copyfile(metrics, record)


def task_names_of(args):
    from mmengine.config import Config, DictAction
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        ns = argparse.Namespace()
        DictAction(option_strings=[], dest='o')(None, ns, args.cfg_options)
        cfg.merge_from_dict(ns.o)
    return list(cfg.model.tasks)


def check_cfg_options(out, cfg_options, record=True):
    """The records under ``out/runs`` are named by setting and seed only, so
    one folder must hold runs of one ``--cfg-options``: they are kept in
    ``out/runs/cfg_options.json``; other options stop the script (a run of
    another Jacobian mode or schedule would else be taken as finished)."""
    path = osp.join(out, 'runs', 'cfg_options.json')
    if osp.isfile(path):
        with open(path) as f:
            kept = json.load(f)
        if kept != list(cfg_options):
            sys.exit(f'error: the runs under {osp.join(out, "runs")} were '
                     f'trained with --cfg-options {kept} ({path}), not '
                     f'{list(cfg_options)}; give these options another '
                     '--out')
    elif record:
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            json.dump(list(cfg_options), f)


def main(argv=None):
    args = parse_args(argv)
    check_cfg_options(args.out, args.cfg_options, record=not args.table_only)
    work_root = args.work_root or osp.join(
        ROOT, 'work_dirs', 'results', osp.basename(osp.normpath(args.out)))
    settings = settings_of(args, task_names_of(args))
    # seed by seed: the table has every setting early
    base_seeds = args.baseline_seeds or args.seeds
    runs = [(s, seed) for seed in sorted(set(args.seeds) | set(base_seeds))
            for s in settings
            if seed in (base_seeds if s.is_baseline else args.seeds)]
    todo = [(s, seed) for s, seed in runs
            if not osp.isfile(s.record_path(records_folder(s, args), seed))]
    if args.baselines_from:
        missing = [s.record_path(args.baselines_from, seed)
                   for s, seed in todo if s.is_baseline]
        if missing:
            sys.exit(f'error: --baselines-from {args.baselines_from}: no '
                     f'finished run {missing}; train them there first')
    print(f'{len(runs) - len(todo)} of {len(runs)} runs finished, '
          f'{0 if args.table_only else len(todo)} to train', flush=True)
    started = time.time()
    for i, (setting, seed) in enumerate([] if args.table_only else todo):
        eta = '' if i == 0 else \
            f', about {(time.time() - started) / i * (len(todo) - i) / 60:.0f} min left'
        print(f'[{i + 1}/{len(todo)}] {setting.name} seed {seed}{eta}',
              flush=True)
        run_one(args, setting, seed, setting.record_path(args.out, seed),
                work_root)
        write_table(build_table(settings, args), args.out, args.table_name)
    table = build_table(settings, args)
    write_table(table, args.out, args.table_name)
    print(open(osp.join(args.out, args.table_name + '.md')).read())
    return table


if __name__ == '__main__':
    main()
