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
