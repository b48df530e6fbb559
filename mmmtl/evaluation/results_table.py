"""The results table of ``tools/analysis_tools/mtl_results.py``.

A :class:`Setting` is a single-task baseline (``--tasks T``) or a balancer
(with options) trained on one config; its finished runs (one per seed) are
records ``<out>/runs/<setting>_seed<k>.json`` (copies of the runs'
``metrics.json``). :func:`build_table` turns them into rows: each task's
primary metric as mean +- std over seeds, delta-m against the baselines
(:mod:`mmmtl.evaluation.delta_m`), median step time and training wall time,
the latter also relative to training all baselines (the "pair").
"""
import csv
import json
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .delta_m import compare, load_run, mean_std, primary_metric


@dataclass
class Setting:
    """One row of the table: what is trained, apart from the seed."""
    name: str
    tasks: Optional[List[str]] = None  # baseline: its task
    balancer: Optional[str] = None
    options: Dict[str, str] = field(default_factory=dict)

    @classmethod
    def baseline(cls, task: str) -> 'Setting':
        return cls(name=f'{task}-only', tasks=[task])

    @classmethod
    def balancer(cls, spec: str) -> 'Setting':
        """From ``TYPE`` or ``TYPE:key=value:key=value``."""
        balancer, *opts = spec.split(':')
        bad = [o for o in opts if '=' not in o]
        if not balancer or bad:
            raise ValueError(f'balancer spec {spec!r}: expected '
                             'TYPE or TYPE:key=value[:key=value]')
        options = dict(o.split('=', 1) for o in opts)
        name = '_'.join([balancer] + [f'{k}-{v}' for k, v in options.items()])
        return cls(name=name, balancer=balancer, options=options)

    @property
    def is_baseline(self) -> bool:
        return self.tasks is not None

    def train_args(self) -> List[str]:
        return ['--tasks'] + self.tasks if self.is_baseline else []

    def cfg_options(self) -> List[str]:
        if self.is_baseline:
            return []
        return [f'optim_wrapper.balancer.type={self.balancer}'] + [
            f'optim_wrapper.balancer.{k}={v}' for k, v in self.options.items()]

    def record_path(self, out: str, seed: int) -> str:
        return osp.join(out, 'runs', f'{self.name}_seed{seed}.json')

    def command(self, config: str, seed: int, extra: List[str]) -> str:
        options = [f'randomness.seed={seed}'] + self.cfg_options() + extra
        return ' '.join(['python tools/train.py', config] +
                        self.train_args() + ['--cfg-options'] + options)


def records_folder(setting: Setting, args) -> str:
    """Where the setting's records are: ``args.out``, or for a baseline
    ``args.baselines_from`` when given."""
    if setting.is_baseline and getattr(args, 'baselines_from', None):
        return args.baselines_from
    return args.out


def seeds_of(setting: Setting, args) -> List[int]:
    if setting.is_baseline and getattr(args, 'baseline_seeds', None):
        return list(args.baseline_seeds)
    return list(args.seeds)


def _runs(setting: Setting, args) -> List[dict]:
    paths = [setting.record_path(records_folder(setting, args), s)
             for s in seeds_of(setting, args)]
    return [load_run(p) for p in paths if osp.isfile(p)]


def _cost(runs: List[dict]) -> dict:
    train = [r.get('train', {}) for r in runs]
    steps = [t['step_time_median_s'] for t in train
             if 'step_time_median_s' in t]
    walls = [t['wall_s'] for t in train if 'wall_s' in t]
    return dict(step_time_s=mean_std(steps) if steps else None,
                wall_s=mean_std(walls) if walls else None)


def _row(setting: Setting, runs: List[dict], baselines: List[List[dict]],
         args) -> dict:
    row = dict(setting=setting.name, baseline=setting.is_baseline,
               seeds=len(runs), metrics={},
               command=setting.command(args.config, args.seeds[0],
                                       list(args.cfg_options)))
    for task in runs[0]['tasks']:
        metric = primary_metric(runs[0], task)
        values = [r['metrics'][metric] for r in runs if metric in r['metrics']]
        if values:  # (mmdet's CocoMetric reports nothing without detections)
            row['metrics'][f'{task}:{metric}'] = mean_std(values)
    covered = {t for runs_ in baselines for t in runs_[0]['tasks']}
    if not setting.is_baseline and covered >= set(runs[0]['tasks']):
        try:
            row['delta_m'] = compare(runs, baselines)['delta_m']
        except (KeyError, ZeroDivisionError) as err:
            row['delta_m_error'] = str(err)
    row.update(_cost(runs))
    return row


def build_table(settings: List[Setting], args) -> dict:
    """Rows of the finished settings (a setting counts once a seed of it
    has finished; ``seeds`` says how many)."""
    finished = [(s, _runs(s, args)) for s in settings]
    finished = [(s, runs) for s, runs in finished if runs]
    baselines = [runs for s, runs in finished if s.is_baseline]
    rows = [_row(s, runs, baselines, args) for s, runs in finished]
    pair = [r['wall_s'][0] for r in rows if r['baseline'] and r['wall_s']]
    for row in rows:
        if row['wall_s'] and len(pair) == len(baselines) and pair:
            row['wall_vs_baselines'] = row['wall_s'][0] / sum(pair)
    return dict(config=args.config, seeds=list(args.seeds),
                baseline_seeds=list(getattr(args, 'baseline_seeds', None)
                                    or args.seeds),
                baselines_from=getattr(args, 'baselines_from', None),
                cfg_options=list(args.cfg_options), rows=rows)


def _pm(mean_std_pair, scale=1.0, digits=3) -> str:
    if not mean_std_pair:
        return ''
    mean, std = mean_std_pair
    return f'{scale * mean:.{digits}f} ± {scale * std:.{digits}f}'


def _columns(table: dict) -> List[str]:
    keys = []
    for row in table['rows']:
        keys += [k for k in row['metrics'] if k not in keys]
    return keys


def _cells(row: dict, metric_keys: List[str]) -> List[str]:
    return ([row['setting'], str(row['seeds'])] +
            [_pm(row['metrics'].get(k)) for k in metric_keys] +
            [_pm(row.get('delta_m'), 100, 2) or
             ('n/a' if 'delta_m_error' in row else ''),
             _pm(row.get('step_time_s'), 1, 3),
             _pm(row.get('wall_s'), 1 / 60, 1),
             f"{row['wall_vs_baselines']:.2f}x"
             if 'wall_vs_baselines' in row else ''])


def write_table(table: dict, out: str, name: str = 'results') -> None:
    """``<name>.md``, ``<name>.csv`` and ``<name>.json`` under ``out``."""
    os.makedirs(out, exist_ok=True)
    keys = _columns(table)
    header = (['setting', 'seeds'] + keys +
              ['delta-m (%)', 'step time (s)', 'train wall (min)',
               'wall vs baselines'])
    rows = [_cells(r, keys) for r in table['rows']]
    with open(osp.join(out, name + '.json'), 'w') as f:
        json.dump(table, f, indent=1)
    with open(osp.join(out, name + '.csv'), 'w', newline='') as f:
        csv.writer(f).writerows([header] + rows)
    base_seeds = table.get('baseline_seeds', table['seeds'])
    lines = [f"Config `{table['config']}`, seeds {table['seeds']}"
             + (f" (baselines: seeds {base_seeds})"
                if base_seeds != table['seeds'] else '')
             + (f" (baselines' runs from `{table['baselines_from']}`)"
                if table.get('baselines_from') else '')
             + (f", `--cfg-options {' '.join(table['cfg_options'])}`"
                if table['cfg_options'] else '') + '; mean ± std over seeds.',
             '', '| ' + ' | '.join(header) + ' |',
             '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(r) + ' |' for r in rows]
    lines += ['', 'Each row (first seed; the others change '
              '`randomness.seed`):', '']
    lines += [f"- {r['setting']}: `{r['command']}`" for r in table['rows']]
    with open(osp.join(out, name + '.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
