"""delta-m (Maninis et al. 2019) on hand-worked numbers."""
import json

import pytest

from mmmtl.evaluation.delta_m import compare, load_run

TASKS = {'det': dict(kind='detection'), 'seg': dict(kind='segmentation'),
         'depth': dict(kind='depth')}


def _write(tmp_path, name, tasks, metrics, section='val'):
    path = tmp_path / f'{name}.json'
    path.write_text(json.dumps(
        {'tasks': {t: TASKS[t] for t in tasks},
         section: {'metrics': metrics}}))
    return str(path)


@pytest.fixture
def runs(tmp_path):
    mt = [_write(tmp_path, 'mt0', ['det', 'seg', 'depth'],
                 {'coco/bbox_mAP': 0.60, 'seg/mIoU': 80.0,
                  'depth/abs_rel': 0.11}),
          _write(tmp_path, 'mt1', ['det', 'seg', 'depth'],
                 {'coco/bbox_mAP': 0.62, 'seg/mIoU': 82.0,
                  'depth/abs_rel': 0.09})]
    det = [_write(tmp_path, 'det0', ['det'], {'coco/bbox_mAP': 0.64}),
           _write(tmp_path, 'det1', ['det'], {'coco/bbox_mAP': 0.66})]
    seg = [_write(tmp_path, 'seg0', ['seg'], {'seg/mIoU': 80.0}, 'test')]
    depth = [_write(tmp_path, 'depth0', ['depth'], {'depth/abs_rel': 0.10})]
    return mt, det, seg, depth


def test_delta_m_by_hand_with_seeds_and_a_lower_is_better_metric(runs):
    mt, det, seg, depth = runs
    result = compare([load_run(p) for p in mt],
                     [[load_run(p) for p in b] for b in (det, seg, depth)],
                     metrics={'depth': 'depth/abs_rel'})
    # baselines: det mean 0.65, seg 80, depth abs_rel 0.10 (lower better)
    # seed 0: (-0.05/0.65 + 0 - 0.01/0.10) / 3 = -0.0589744
    # seed 1: (-0.03/0.65 + 2/80 + 0.01/0.10) / 3 = +0.0262821
    assert result['delta_m_runs'] == pytest.approx([-0.0589744, 0.0262821],
                                                   abs=1e-6)
    mean, std = result['delta_m']
    assert mean == pytest.approx(-0.0163462, abs=1e-6)
    assert std == pytest.approx(0.0602848, abs=1e-6)  # sample std
    by_task = {t['task']: t for t in result['tasks']}
    assert by_task['depth']['lower_is_better']
    assert not by_task['det']['lower_is_better']
    assert by_task['det']['baseline'][0] == pytest.approx(0.65)
    assert by_task['det']['baseline'][1] == pytest.approx(0.0141421, 1e-5)
    assert by_task['seg']['change'] == pytest.approx(1 / 80)


def test_cli_prints_per_task_lines_and_delta_m_last(runs, capsys, tmp_path):
    import runpy
    mt, det, seg, depth = runs
    pattern = str(tmp_path / 'mt*.json')
    runpy.run_path('tools/analysis_tools/delta_m.py', run_name='not_main')[
        'main']([pattern, ','.join(det), seg[0], depth[0],
                 '--metric', 'depth=depth/abs_rel'])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == 'delta-m: -1.63% (std 6.03%, 2 runs)'
    det_line = next(line for line in lines if line.startswith('det'))
    assert '0.6100 +- 0.0141 (2)' in det_line and '-6.15%' in det_line


def test_missing_baseline_and_metric_are_named(runs, tmp_path):
    mt, det, seg, depth = runs
    multi = [load_run(mt[0])]
    with pytest.raises(ValueError, match="no baseline run has the task 'seg'"):
        compare(multi, [[load_run(det[0])]])
    bases = [[load_run(p)] for p in (det[0], seg[0], depth[0])]
    # a depth task is compared on its abs rel unless told otherwise
    assert compare(multi, bases)['tasks'][2]['metric'] == 'depth/abs_rel'
    multi[0]['tasks']['depth'] = dict(kind='other')
    with pytest.raises(ValueError, match="kind 'other' has no default"):
        compare(multi, bases)
    with pytest.raises(FileNotFoundError, match='no metrics.json'):
        load_run(str(tmp_path))
