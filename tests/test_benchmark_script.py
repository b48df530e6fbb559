"""The benchmark scripts under tools/analysis_tools/ and their shared
helpers (mmmtl.utils.benchmark): the order of the contenders in the rounds,
the warm-up, and the tables the scripts print. No timing is checked: the
figures belong to docs/balancers.md and docs/cost.md."""
import os
import re
import subprocess
import sys

from mtl_fixtures import REPO, load_tool

from mmmtl.utils.benchmark import (Contender, markdown_table, round_orders,
                                   summarize, time_interleaved)

R50 = 'configs/cityscapes/retinanet_r50_fpn_semfpn_8xb2-40k_cityscapes-512x1024.py'  # noqa: E501
DEMO = 'configs/synthetic/retinanet_r18-c32_fpn_semfpn_synthetic.py'


def test_round_orders_vary_and_balance_positions():
    for num in (2, 3, 4, 7):
        orders = round_orders(num, 2 * num, seed=1)
        for order in orders:
            assert sorted(order) == list(range(num))  # each once a round
        for before, after in zip(orders, orders[1:]):
            assert before != after
        # over `num` rounds every contender takes every position once
        for position in range(num):
            assert sorted(o[position] for o in orders[:num]) == \
                list(range(num))
    assert round_orders(5, 3, seed=0) == round_orders(5, 3, seed=0)
    assert round_orders(5, 3, seed=0) != round_orders(5, 3, seed=1)
    assert round_orders(1, 3) == [[0], [0], [0]]


def test_time_interleaved_warms_up_every_contender_and_follows_orders():
    calls = []

    def contender(name):
        def make_input():
            calls.append(('input', name))
            return name
        return Contender(name, lambda arg: calls.append(('run', arg)),
                         make_input)

    contenders = [contender(n) for n in 'abc']
    orders = time_interleaved(contenders, rounds=4, warmup=2, seed=3)
    runs = [name for kind, name in calls if kind == 'run']
    assert len(runs) == 3 * 6
    # a fresh input before every call
    assert all(calls[i] == ('input', calls[i + 1][1])
               for i in range(0, len(calls), 2))
    # warm-up: two full rounds of every contender, then the timed rounds
    assert sorted(runs[:6]) == sorted('abc' * 2)
    timed = [runs[6 + 3 * r:9 + 3 * r] for r in range(4)]
    assert timed == [[contenders[i].name for i in o] for o in orders]
    assert orders == round_orders(3, 6, seed=3)[2:]
    assert all(len(c.times) == 4 for c in contenders)


def test_summarize_and_table():
    s = summarize([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (s.median, s.q1, s.q3, s.low, s.high) == (3.0, 2.0, 4.0, 1.0, 5.0)
    one = summarize([2.0])
    assert (one.median, one.q1, one.q3) == (2.0, 2.0, 2.0)
    assert markdown_table(['a', 'b'], [['x', 1]]).splitlines() == [
        '| a | b |', '|---|---:|', '| x | 1 |']


def run_script(args):
    proc = subprocess.run(
        [sys.executable] + args, cwd=REPO, capture_output=True, text=True,
        timeout=600, env=dict(os.environ, OMP_NUM_THREADS='2'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def table_rows(stdout, cells):
    """Rows of the markdown tables in ``stdout`` with ``cells`` columns,
    keyed by their first cell."""
    rows = {}
    for line in stdout.splitlines():
        parts = [p.strip() for p in line.strip().strip('|').split('|')]
        if line.startswith('| ') and len(parts) == cells and \
                not parts[1].startswith('-'):
            rows.setdefault(parts[0], []).append(parts[1:])
    return rows


def round_lines(stdout):
    return [line.split(': ', 1)[1].split(' > ')
            for line in stdout.splitlines() if re.match(r'round \d+: ', line)]


def test_balancer_benchmark_rounds_and_table():
    # the ResNet-50 config asks for torchvision weights: the script must
    # drop them (no network here) and skip the frozen stem's parameters
    out = run_script([
        'tools/analysis_tools/benchmark_balancers.py', R50,
        '--img-size', '64', '96', '--batch-size', '1', '--rounds', '2',
        '--warmup', '0', '--methods', 'DWA', 'MGDA', '--modes', 'parameter',
        '--show-order'])
    methods = {'EqualWeighting', 'DWA', 'MGDA [parameter]',
               'torchjd mtl_backward MGDA'}
    rounds = round_lines(out)
    assert len(rounds) == 2
    assert all(sorted(r) == sorted(methods) for r in rounds)
    assert rounds[0] != rounds[1]
    rows = table_rows(out, 8)
    assert set(rows) - {'method'} == methods
    ms, iqr, ratio, ratio_iqr, total, mib, mem_ratio = \
        rows['EqualWeighting'][0]
    # the reference against itself, round by round
    assert (ratio, ratio_iqr, total, mem_ratio) == (
        '1.00', '[1.00, 1.00]', '1.00', '1.00')
    for name in methods:
        low, high = map(float, rows[name][0][1].strip('[]').split(', '))
        assert low <= high


def test_cost_benchmark_rounds_and_tables():
    out = run_script([
        'tools/analysis_tools/benchmark_cost.py', DEMO, '--img-size', '64',
        '64', '--batch-sizes', '1', '2', '--train-batch-size', '2',
        '--rounds', '2', '--warmup', '0', '--shared', '--show-order'])
    measures = ['inference, batch 1', 'inference, batch 2',
                'training step, batch 2']
    calls = {f'{m} | {model}' for m in measures
             for model in ('joint', 'det', 'seg', 'shared')}
    rounds = round_lines(out)
    assert len(rounds) == 2 and rounds[0] != rounds[1]
    assert all(sorted(r) == sorted(calls) for r in rounds)
    rows = table_rows(out, 6)
    assert rows['measurement'] == [['joint', 'det', 'seg', 'det + seg',
                                    'joint / (det + seg)']] * 2
    overheads = table_rows(out, 5)
    assert overheads['measurement'] == [[
        'shared', 'det + seg - shared', 'joint',
        'joint - (det + seg - shared)']]
    for measure in measures:
        assert len(overheads[measure]) == 1
        timing, memory = rows[measure]  # one row in each table
        det, seg, pair = (float(c.split()[0]) for c in timing[1:4])
        assert abs(det + seg - pair) < 0.2 * (det + seg) + 0.1
        held = [int(c.split(' = ')[1].split(' + ')[0]) for c in memory[:4]]
        assert held[3] == held[1] + held[2] or \
            abs(held[3] - held[1] - held[2]) <= 1  # rounding
        assert held[0] < held[3]  # one backbone instead of two


def test_balancer_benchmark_torchjd_path_takes_an_architectures_task_params(
        monkeypatch):
    """torchjd's reference path on MTAN: the attention modules above the
    cut are its tasks' own parameters (``task_modules()``, as the optim
    wrapper's constructor takes them), so shared and task parameters
    together are every trainable parameter of the model."""
    from argparse import Namespace

    import torch
    import torchjd.autojac
    from mmdet.utils import register_all_modules
    from mmengine.config import Config

    from mmmtl.utils.benchmark import build_model, config_batch, \
        drop_pretrained
    bench = load_tool('tools/analysis_tools/benchmark_balancers.py')
    seen = {}
    backward = torchjd.autojac.mtl_backward

    def spy(losses, **kwargs):
        seen.update(kwargs)
        return backward(losses, **kwargs)

    monkeypatch.setattr(torchjd.autojac, 'mtl_backward', spy)
    register_all_modules()
    cfg = Config.fromfile(os.path.join(REPO, 'configs/synthetic',
                                       'mtan_retinanet_r18-c32_fpn_semfpn_'
                                       'synthetic.py'))
    drop_pretrained(cfg.model)
    base = build_model(cfg.model, torch.device('cpu'))
    contender = bench.torchjd_contender(base, 'MGDA', Namespace(amp=False))
    contender.run(config_batch(cfg, 2, (96, 96)))
    given = [p for group in [seen['shared_params'], *seen['tasks_params']]
             for p in group]
    assert len(seen['tasks_params']) == 2
    trainable = sum(p.numel() for p in base.parameters() if p.requires_grad)
    assert sum(p.numel() for p in {id(p): p for p in given}.values()) \
        == trainable
