"""tools/analysis_tools/mtl_results.py on a tiny preset: the table's rows,
delta-m from the runs' records, and a second call trains nothing."""
import json
import os
import runpy

import pytest

from mtl_fixtures import REPO, runner_cfg

SCRIPT = os.path.join(REPO, 'tools', 'analysis_tools', 'mtl_results.py')


def _set_metric(path, key, value):
    record = json.loads(path.read_text())
    record['val']['metrics'][key] = value
    path.write_text(json.dumps(record))
    return record['val']['metrics']


def test_trains_baselines_and_balancers_then_resumes_without_rerunning(
        tiny_data_root, tmp_path, capsys):
    config = tmp_path / 'tiny_preset.py'
    cfg = runner_cfg(tiny_data_root, 'unused', max_iters=2)
    cfg.model.tasks.det.test_cfg.score_thr = 0.0  # boxes after 2 iterations
    cfg.dump(str(config))
    out = tmp_path / 'results'
    argv = [str(config), '--out', str(out), '--seeds', '0',
            '--balancers', 'EqualWeighting',
            '--work-root', str(tmp_path / 'runs')]
    main = runpy.run_path(SCRIPT, run_name='not_main')['main']
    table = main(argv)
    assert capsys.readouterr().out.startswith(
        '0 of 3 runs finished, 3 to train')
    rows = {r['setting']: r for r in table['rows']}
    assert list(rows) == ['det-only', 'seg-only', 'EqualWeighting']
    assert list(rows['det-only']['metrics']) == ['det:coco/bbox_mAP']
    assert list(rows['seg-only']['metrics']) == ['seg:seg/mIoU']
    assert list(rows['EqualWeighting']['metrics']) == ['det:coco/bbox_mAP',
                                            'seg:seg/mIoU']
    # the pair's training time is the baselines' summed wall time
    pair = rows['det-only']['wall_s'][0] + rows['seg-only']['wall_s'][0]
    assert rows['EqualWeighting']['wall_vs_baselines'] == pytest.approx(
        rows['EqualWeighting']['wall_s'][0] / pair)
    record = json.loads((out / 'runs' / 'det-only_seed0.json').read_text())
    assert list(record['tasks']) == ['det']
    assert record['train']['iters'] == 2 and record['val']['iter'] == 2
    assert '--tasks det --cfg-options randomness.seed=0' in \
        (out / 'results.md').read_text()
    assert (out / 'results.csv').read_text().count('\n') == 4

    runs = out / 'runs'
    _set_metric(runs / 'det-only_seed0.json', 'coco/bbox_mAP', 0.5)
    _set_metric(runs / 'EqualWeighting_seed0.json', 'coco/bbox_mAP', 0.4)
    seg_st = _set_metric(runs / 'seg-only_seed0.json', 'seg/mIoU', 40.0)
    seg_mt = _set_metric(runs / 'EqualWeighting_seed0.json', 'seg/mIoU', 50.0)
    stamp = os.path.getmtime(runs / 'EqualWeighting_seed0.json')
    table = main(argv)
    assert capsys.readouterr().out.startswith(
        '3 of 3 runs finished, 0 to train')
    assert os.path.getmtime(out / 'runs' / 'EqualWeighting_seed0.json') == stamp
    ew = next(r for r in table['rows'] if r['setting'] == 'EqualWeighting')
    # ((0.4 - 0.5) / 0.5 + (50 - 40) / 40) / 2 = 0.025
    assert ew['delta_m'][0] == pytest.approx(0.025)
    assert seg_st['seg/mIoU'] == 40.0 and seg_mt['seg/mIoU'] == 50.0
    assert '| EqualWeighting | 1 | 0.400 ± 0.000 | 50.000 ± 0.000 | ' \
        '2.50 ± 0.00 |' in (out / 'results.md').read_text()

    # a second table beside the first, from the finished runs only
    before = (out / 'results.md').read_text()
    table = main(argv[:3] + ['--seeds', '0', '--balancers', 'UPGrad',
                             'EqualWeighting', '--table-only',
                             '--table-name', 'other'])
    assert capsys.readouterr().out.startswith(
        '3 of 4 runs finished, 0 to train')
    assert [r['setting'] for r in table['rows']] == [
        'det-only', 'seg-only', 'EqualWeighting']
    assert (out / 'results.md').read_text() == before
    assert '| EqualWeighting | 1 | 0.400 ± 0.000 |' in \
        (out / 'other.md').read_text()
    assert [r['setting'] for r in json.loads(
        (out / 'other.json').read_text())['rows']] == [
        'det-only', 'seg-only', 'EqualWeighting']

    # one balancer seed against the mean of two baseline seeds: seed 1 of
    # the baselines is trained too (records written by hand here)
    for name, key, value in (('det-only', 'coco/bbox_mAP', 0.7),
                             ('seg-only', 'seg/mIoU', 60.0)):
        record = json.loads((runs / f'{name}_seed0.json').read_text())
        record['val']['metrics'][key] = value
        (runs / f'{name}_seed1.json').write_text(json.dumps(record))
    table = main(argv + ['--baseline-seeds', '0', '1', '--table-only',
                         '--table-name', 'two_baseline_seeds'])
    assert capsys.readouterr().out.startswith(
        '5 of 5 runs finished, 0 to train')
    ew = next(r for r in table['rows'] if r['setting'] == 'EqualWeighting')
    # baselines' means (0.6, 50): ((0.4 - 0.6) / 0.6 + (50 - 50) / 50) / 2
    assert ew['delta_m'][0] == pytest.approx(-1 / 6)
    assert 'seeds [0] (baselines: seeds [0, 1])' in \
        (out / 'two_baseline_seeds.md').read_text()

    # another folder (another Jacobian mode) against this one's baselines:
    # none is trained there; its balancer run (written by hand) is compared
    other = tmp_path / 'parameter_mode'
    (other / 'runs').mkdir(parents=True)
    record = json.loads((runs / 'EqualWeighting_seed0.json').read_text())
    record['val']['metrics'].update({'coco/bbox_mAP': 0.45,
                                     'seg/mIoU': 40.0})
    (other / 'runs' / 'EqualWeighting_seed0.json').write_text(
        json.dumps(record))
    mode = ['--cfg-options', 'optim_wrapper.jacobian_mode=parameter']
    table = main(argv[:1] + ['--out', str(other), '--seeds', '0',
                             '--balancers', 'EqualWeighting',
                             '--baselines-from', str(out), '--table-only']
                 + mode)
    assert capsys.readouterr().out.startswith(
        '3 of 3 runs finished, 0 to train')
    ew = next(r for r in table['rows'] if r['setting'] == 'EqualWeighting')
    # baselines (0.5, 40): ((0.45 - 0.5) / 0.5 + 0) / 2 = -0.05
    assert ew['delta_m'][0] == pytest.approx(-0.05)
    assert f"baselines' runs from `{out}`" in (other / 'results.md'
                                               ).read_text()
    assert not (other / 'runs' / 'det-only_seed0.json').exists()
    with pytest.raises(SystemExit, match=r'--baselines-from .*seg-only_seed'
                       r'7\.json.*train them there first'):
        main(argv[:1] + ['--out', str(other), '--seeds', '7',
                         '--balancers', 'EqualWeighting',
                         '--baselines-from', str(out)] + mode)


def test_a_folder_keeps_the_cfg_options_of_its_runs(tmp_path):
    check = runpy.run_path(SCRIPT, run_name='not_main')['check_cfg_options']
    out = str(tmp_path / 'results')
    check(out, [], record=False)        # --table-only records nothing
    assert not (tmp_path / 'results' / 'runs').exists()
    check(out, [])
    check(out, [])                      # same options: go on
    mode = ['optim_wrapper.jacobian_mode=parameter']
    with pytest.raises(SystemExit, match=r"trained with --cfg-options \[\]"
                       r".*cfg_options\.json.*jacobian_mode=parameter"):
        check(out, mode)
    check(str(tmp_path / 'parameter_mode'), mode)
    with pytest.raises(SystemExit, match='another --out'):
        check(str(tmp_path / 'parameter_mode'), [], record=False)
