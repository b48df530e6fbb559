"""tools/analysis_tools/balancer_traces.py --summary on hand-written
traces: a per-step trace file and a work dir's logged scalars.json."""
import json
import os

import pytest

from mtl_fixtures import load_tool


tool = load_tool('tools/analysis_tools/balancer_traces.py')


def _row(it, w_det, w_seg, norm):
    return {'iter': it, 'weight.det': w_det, 'weight.seg': w_seg,
            'grad_norm': norm, 'det.loss': 1.0}


def test_summary_of_a_per_step_trace_counts_clipped_and_starved_steps():
    rows = [_row(0, 1.0, 1.0, 4.0), _row(1, 2.0, 0.01, 12.0),
            _row(2, 3.0, 0.5, 20.0), _row(3, 1.0, 1.0, 1.0)]
    lines = tool.summarise(rows, window=2, max_norm=10)
    assert lines == [
        'iters 0-1 | w.det 1.5 [1, 2] | w.seg 0.505 [0.01, 1] | '
        'grad_norm 8 [4, 12] | clipped 1/2 | low-weight steps 1',
        'iters 2-3 | w.det 2 [1, 3] | w.seg 0.75 [0.5, 1] | '
        'grad_norm 10.5 [1, 20] | clipped 1/2 | low-weight steps 0']


def _write_scalars(folder, lines):
    folder.mkdir(parents=True)
    (folder / 'scalars.json').write_text(
        '\n'.join(json.dumps(x) for x in lines) + '\n')


def test_summary_joins_the_logged_scalars_of_a_resumed_run(tmp_path):
    # first run: iterations 50 and 100 (then killed); resumed from 50
    _write_scalars(tmp_path / '20250101_000000' / 'vis_data',
                   [_row(50, 1.0, 9.0, 3.0), _row(100, 1.0, 9.0, 3.0)])
    _write_scalars(tmp_path / '20250102_000000' / 'vis_data',
                   [_row(100, 1.0, 0.5, 30.0),
                    {'seg/mIoU': 40.0, 'step': 100}])
    rows = tool.load_rows(str(tmp_path))
    # the validation row is left out; the resumed run's iteration 100
    # replaces the first run's
    assert [(r['iter'], r['weight.seg']) for r in rows] == [(50, 9.0),
                                                           (100, 0.5)]
    lines = tool.summarise(rows, window=8, max_norm=10, per_step=False)
    assert lines == ['iters 50-100 | w.det 1 [1, 1] | w.seg 4.75 [0.5, 9] | '
                     'grad_norm 16.5 [3, 30] | means above max_norm 1/2 | '
                     'low-weight means 0']


def test_summary_of_a_dir_without_logged_scalars_names_it(tmp_path):
    os.makedirs(tmp_path / 'empty_run')
    with pytest.raises(SystemExit, match='empty_run'):
        tool.load_rows(str(tmp_path / 'empty_run'))


def test_table_row_of_a_run_by_quarters(tmp_path):
    # 8 logged rows: quarters of 2; seg's weight falls to 1/20 of det's
    # (last quarter: 0.4 and 0.05, median 0.225)
    rows = [dict(_row(50 * (i + 1), 1.0, 1.0 - 0.1 * i, 10.0 - i),
                 **{'grad_norm.det': 0.5, 'grad_norm.seg': 2.0 + i})
            for i in range(8)]
    rows[-1]['weight.seg'] = 0.05
    (tmp_path / 'metrics.json').write_text(json.dumps(
        {'val': {'metrics': {'coco/bbox_mAP': 0.6123, 'seg/mIoU': 88.5}}}))
    metrics = tool.run_metrics(str(tmp_path),
                               ['coco/bbox_mAP', 'seg/mIoU', 'missing'])
    assert metrics == {'coco/bbox_mAP': 0.6123, 'seg/mIoU': 88.5,
                       'missing': None}
    row = tool.table_row('NashMTL/seed0', rows, metrics)
    assert row == ('| NashMTL/seed0 | 1 / 0.95 | 1 / 0.75 | 1 / 0.55 | '
                   '1 / 0.225 | 0.05 | 0.5 / 2.5 → 0.5 / 8.5 | 9.5 → 3.5 | '
                   '0.6123 | 88.5 | - |')
    header = tool.table_header(['det', 'seg'], ['coco/bbox_mAP'])
    assert header[0].count('|') == row.count('|') - 2


def test_table_of_a_run_without_logged_weights_names_it(tmp_path):
    _write_scalars(tmp_path / 'run' / '20250101_000000' / 'vis_data',
                   [{'seg/mIoU': 40.0, 'step': 100}])
    with pytest.raises(SystemExit, match='no logged task weights.*run'):
        tool.print_table([str(tmp_path / 'run')], ['seg/mIoU'])
