"""--tasks: a config cut down to some of its tasks (single-task baselines)."""
import glob
import os.path as osp

import pytest
from mmdet.registry import MODELS
from mmengine.config import Config

from mtl_fixtures import REPO, tiny_model_cfg
from mmmtl.utils.config import load_tool_config
from mmmtl.utils.task_selection import is_auxiliary, select_tasks

SHIPPED = sorted(p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                                      recursive=True) if '_base_' not in p)


def _metric_types(evaluator):
    return [m['type'] for m in evaluator]


@pytest.mark.parametrize('config', SHIPPED, ids=osp.basename)
def test_each_task_alone_for_every_shipped_config(config, tmp_path):
    full = Config.fromfile(config)
    for task in full.model.tasks:
        if is_auxiliary(full.model.tasks[task]):
            # alone it would train for nothing that is predicted
            with pytest.raises(SystemExit, match='only auxiliary'):
                load_tool_config(config, tasks=[task])
            continue
        cfg = load_tool_config(config, tasks=[task])
        assert list(cfg.model.tasks) == [task]
        assert cfg.model.tasks[task] == full.model.tasks[task]
        assert cfg.model.backbone == full.model.backbone
        assert cfg.model.neck == full.model.neck
        assert cfg.train_dataloader == full.train_dataloader
        assert cfg.train_cfg == full.train_cfg
        assert cfg.optim_wrapper.balancer == dict(type='EqualWeighting')
        assert cfg.work_dir.endswith(f'_{task}-only')
        kind = MODELS.get(full.model.tasks[task]['type']).task_kind
        expected = {'detection': ['CocoMetric'],
                    'segmentation': ['SegIoUMetric'],
                    'depth': ['DepthEstimationMetric']}[kind]
        assert _metric_types(cfg.val_evaluator) == expected
        assert _metric_types(cfg.test_evaluator) == expected
        model = MODELS.build(cfg.model)
        assert model.task_names == [task]


def _three_task_cfg():
    model = tiny_model_cfg()
    model['tasks']['weather'] = dict(
        type='ImageClassificationTask', num_classes=3, in_channels=16,
        label_key='weather')
    return Config(dict(
        model=model,
        val_evaluator=dict(type='Evaluator', metrics=[
            dict(type='CocoMetric', ann_file='x.json'),
            dict(type='SegIoUMetric'),
            dict(type='ImageClassificationMetric', label_key='weather')]),
        optim_wrapper=dict(balancer=dict(type='StaticWeighting',
                                         weights=[1.0, 2.0, 3.0])),
        custom_hooks=[
            dict(type='AlternatingTasksHook',
                 schedule=['det', ['seg', 'weather'], 'seg']),
            dict(type='StagedTrainingHook', stages=[
                dict(begin=0, freeze=['tasks.seg', 'tasks.det.head',
                                      'backbone'])])]))


def test_a_subset_keeps_the_balancer_options_and_hooks_of_its_tasks():
    cfg = select_tasks(_three_task_cfg(), ['weather', 'det'])
    assert list(cfg.model.tasks) == ['det', 'weather']  # config order
    assert cfg.optim_wrapper.balancer.weights == [1.0, 3.0]
    assert cfg.optim_wrapper.balancer.type == 'StaticWeighting'
    assert _metric_types(cfg.val_evaluator.metrics) == [
        'CocoMetric', 'ImageClassificationMetric']
    alternating, staged = cfg.custom_hooks
    assert alternating['schedule'] == [['det'], ['weather']]
    assert staged['stages'][0]['freeze'] == ['tasks.det.head', 'backbone']


def test_one_task_drops_the_alternating_hook():
    cfg = select_tasks(_three_task_cfg(), ['seg'])
    assert [h['type'] for h in cfg.custom_hooks] == ['StagedTrainingHook']
    assert _metric_types(cfg.val_evaluator.metrics) == ['SegIoUMetric']


def test_unknown_task_is_named_with_the_available_ones():
    with pytest.raises(ValueError, match=r"\['depth'\] not among the tasks "
                       r"of the config \(model.tasks: \['det', 'seg', "
                       r"'weather'\]\)"):
        select_tasks(_three_task_cfg(), ['det', 'depth'])


def test_unknown_metric_is_named():
    cfg = _three_task_cfg()
    cfg.val_evaluator.metrics.append(dict(type='DumpDetResults',
                                          out_file_path='x.pkl'))
    with pytest.raises(ValueError, match="'DumpDetResults' evaluates"):
        select_tasks(cfg, ['det'])


def _synthetic(name):
    return Config.fromfile(osp.join(REPO, 'configs', 'synthetic', name))


def test_one_cross_stitch_column_is_the_plain_network_of_that_column():
    cfg = _synthetic('cross-stitch_retinanet_r18-c32_fpn_semfpn_synthetic.py')
    model = select_tasks(cfg, ['seg']).model
    assert model.type == 'MultiTaskDetector' and list(model.tasks) == ['seg']
    assert 'stitch_stages' not in model and model.neck == cfg.model.neck
    assert select_tasks(_synthetic(
        'cross-stitch_retinanet_r18-c32_fpn_semfpn_synthetic.py'),
        ['det', 'seg']).model.type == 'CrossStitchDetector'


def test_sharing_tree_groups_lose_the_dropped_tasks():
    cfg = _synthetic(
        'sharing-tree_retinanet_r18-c32_fpn_semfpn_depthfpn_synthetic.py')
    groups = dict(cfg.model.groups)
    kept = [t for t in cfg.model.tasks if t != 'det']
    model = select_tasks(cfg, kept).model
    assert model.type == 'SharingTreeDetector'
    assert {g: list(m) for g, m in model.groups.items()} == {
        g: [t for t in m if t in kept] for g, m in groups.items()
        if any(t in kept for t in m)}
    MODELS.build(model)  # the pruned tree builds
