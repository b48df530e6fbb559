"""tools/analysis_tools/analyze_logs.py on hand-written scalars.json files:
which keys each panel gets, and that the curves carry the logged numbers."""
import json
import os
import os.path as osp

import pytest

from mtl_fixtures import load_tool


tool = load_tool('tools/analysis_tools/analyze_logs.py')


def _train_line(step, det, seg, w_det, cos):
    """A training line as mmengine's LoggerHook writes it."""
    return {'lr': 0.001, 'data_time': 0.01, 'loss': w_det * det + seg,
            'det.loss': det, 'det.loss_cls': det / 2, 'det.loss_bbox': det / 2,
            'seg.loss': seg, 'weight.det': w_det, 'weight.seg': 1 - w_det,
            'cos.det-seg': cos, 'grad_norm.det': 2 * cos,
            'grad_norm.seg': 3.0, 'grad_norm': 9.0,
            'time': step / 100, 'iter': step,
            'memory': 100, 'step': step}


VAL_LINE = {'coco/bbox_mAP': 0.25, 'coco/bbox_mAP_50': 0.5,
            'seg/mIoU': 40.0, 'seg/aAcc': 80.0, 'data_time': 0.5,
            'time': 0.9, 'step': 20}


def _write_run(root, lines, timestamp='20250101_000000'):
    folder = osp.join(root, timestamp, 'vis_data')
    os.makedirs(folder, exist_ok=True)
    path = osp.join(folder, 'scalars.json')
    with open(path, 'w') as f:
        f.writelines(json.dumps(line) + '\n' for line in lines)
    return path


@pytest.fixture
def run_dir(tmp_path):
    lines = [_train_line(10, 2.0, 1.5, 0.6, 0.1),
             _train_line(20, 1.0, 1.0, 0.4, -0.2), VAL_LINE]
    _write_run(str(tmp_path / 'upgrad'), lines)
    return str(tmp_path / 'upgrad')


def _curves(panel):
    return {c.key: (c.steps, c.values) for c in panel.curves}


def test_default_panels_pick_losses_weights_cosines_and_main_metrics(run_dir):
    panels = tool.collect_curves(tool.load_runs([run_dir]))
    assert [p.title for p in panels] == [
        'task losses', 'task weights', 'gradient cosines', 'gradient norms',
        'coco/bbox_mAP', 'seg/mIoU']
    losses, weights, cosines, norms, bbox_map, miou = map(_curves, panels)
    assert losses == {'det.loss': ([10, 20], [2.0, 1.0]),
                      'seg.loss': ([10, 20], [1.5, 1.0])}
    assert weights == {'weight.det': ([10, 20], [0.6, 0.4]),
                       'weight.seg': ([10, 20], [0.4, 0.6])}
    assert cosines == {'cos.det-seg': ([10, 20], [0.1, -0.2])}
    # per task; clip_grad's total grad_norm is not one
    assert norms == {'grad_norm.det': ([10, 20], [0.2, -0.4]),
                     'grad_norm.seg': ([10, 20], [3.0, 3.0])}
    assert bbox_map == {'coco/bbox_mAP': ([20], [0.25])}
    assert miou == {'seg/mIoU': ([20], [40.0])}
    # one run: the label is the key
    assert [c.label for c in panels[0].curves] == ['det.loss', 'seg.loss']


def test_keys_by_name_metric_name_and_glob(run_dir):
    runs = tool.load_runs([run_dir])
    (panel,) = tool.collect_curves(runs, keys=['det.loss_*', 'bbox_mAP'])
    assert _curves(panel) == {
        'det.loss_bbox': ([10, 20], [1.0, 0.5]),
        'det.loss_cls': ([10, 20], [1.0, 0.5]),
        'coco/bbox_mAP': ([20], [0.25])}


def test_validation_time_is_not_training_time(run_dir):
    scalars = tool.load_run(run_dir)
    assert scalars['time'] == ([10, 20], [0.1, 0.2])
    assert tool.train_times(scalars) == [0.2]


def test_unknown_key_names_the_key_and_the_available_ones(run_dir, capsys):
    runs = tool.load_runs([run_dir])
    with pytest.raises(ValueError) as err:
        tool.collect_curves(runs, keys=['weight.det', 'weight.depth'])
    message = str(err.value)
    assert "'weight.depth'" in message
    for key in ('weight.det', 'weight.seg', 'det.loss', 'seg/mIoU', 'lr'):
        assert key in message
    # the command line exits with that message, without a traceback
    with pytest.raises(SystemExit) as exit_info:
        tool.main(['plot_curve', run_dir, '--keys', 'weight.depth'])
    assert "'weight.depth'" in str(exit_info.value.code)


def test_runs_are_compared_on_the_same_panels(run_dir, tmp_path):
    # a single-task baseline: no seg loss, weights, cosines or seg metric
    other = str(tmp_path / 'det_only')
    _write_run(other, [{'det.loss': 3.0, 'iter': 10, 'step': 10},
                       {'coco/bbox_mAP': 0.3, 'step': 20}])
    runs = tool.load_runs([run_dir, other])
    assert list(runs) == ['upgrad', 'det_only']
    panels = tool.collect_curves(runs)
    losses = panels[0]
    assert [(c.run, c.key, c.label) for c in losses.curves] == [
        ('upgrad', 'det.loss', 'upgrad det.loss'),
        ('upgrad', 'seg.loss', 'upgrad seg.loss'),
        ('det_only', 'det.loss', 'det_only det.loss')]
    assert losses.curves[2].values == [3.0]
    bbox_map = panels[4]
    assert [(c.label, c.values) for c in bbox_map.curves] == [
        ('upgrad coco/bbox_mAP', [0.25]), ('det_only coco/bbox_mAP', [0.3])]
    # --legend: one name per run, or (mmdet) one label per run and key
    (panel,) = tool.collect_curves(runs, keys=['det.loss'],
                                   legend=['UPGrad', 'det only'])
    assert [c.label for c in panel.curves] == ['UPGrad', 'det only']
    with pytest.raises(ValueError, match='--legend has 3 names'):
        tool.collect_curves(runs, keys=['det.loss'], legend=['a', 'b', 'c'])


def test_metrics_logged_by_epoch_sit_at_the_last_training_step(tmp_path):
    # LoggerHook's default log_metric_by_epoch=True logs val at step=epoch
    path = _write_run(str(tmp_path / 'run'), [
        _train_line(10, 2.0, 1.5, 0.5, 0.0), {**VAL_LINE, 'step': 1},
        _train_line(20, 1.0, 1.0, 0.5, 0.0), {**VAL_LINE, 'step': 2}])
    scalars = tool.load_run(path)
    assert scalars['seg/mIoU'] == ([10, 20], [40.0, 40.0])


def test_a_resumed_session_continues_the_run(tmp_path):
    root = str(tmp_path / 'run')
    _write_run(root, [_train_line(s, 2.0, 1.0, 0.5, 0.0)
                      for s in (10, 20, 30)], timestamp='20250101_000000')
    # resumed from the checkpoint of iteration 20
    _write_run(root, [_train_line(s, 1.0, 1.0, 0.5, 0.0)
                      for s in (30, 40)], timestamp='20250102_000000')
    assert tool.load_run(root)['det.loss'] == ([10, 20, 30, 40],
                                               [2.0, 2.0, 1.0, 1.0])
    assert tool.run_name(osp.join(root, '20250102_000000', 'vis_data',
                                  'scalars.json')) == 'run'


def test_plot_curve_writes_a_png(run_dir, tmp_path, capsys):
    out = str(tmp_path / 'curves.png')
    tool.main(['plot_curve', run_dir, '--out', out, '--title', 'UPGrad'])
    with open(out, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    assert f'save curve to: {out}' in capsys.readouterr().out
    tool.main(['plot_curve', run_dir])  # default: beside the run
    assert osp.isfile(osp.join(run_dir, 'curves.png'))


def test_missing_work_dir_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match='no such work dir'):
        tool.main(['plot_curve', str(tmp_path / 'nope')])
    (tmp_path / 'empty').mkdir()
    with pytest.raises(SystemExit, match='vis_data/scalars.json'):
        tool.main(['cal_train_time', str(tmp_path / 'empty')])
