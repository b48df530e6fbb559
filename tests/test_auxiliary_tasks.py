"""Auxiliary tasks: trained and balanced like the others, left out of
prediction, raw outputs / ONNX export and evaluation."""
import copy
import json

import onnx
import torch
from mmdet.registry import MODELS
from mmengine.config import Config

from mmmtl.deployment import RawOutputModel
from mmmtl.deployment.onnx_export import export_onnx
from mmmtl.utils.task_selection import drop_auxiliary_metrics
from mtl_fixtures import balancing_wrapper, random_batch, tiny_model_cfg


def model_with_auxiliary_scene_task():
    cfg = tiny_model_cfg()
    cfg['tasks']['scene'] = dict(type='ImageClassificationTask',
                                 num_classes=3, in_channels=16,
                                 auxiliary=True)
    return MODELS.build(cfg)


def labelled_batch(n=3):
    batch = random_batch(n)
    for i, s in enumerate(batch['data_samples']):
        s.set_metainfo(dict(image_label=i % 3))
    return batch


def test_auxiliary_task_is_trained_and_balanced():
    torch.manual_seed(0)
    model = model_with_auxiliary_scene_task()
    wrapper = balancing_wrapper(model, 'MGDA', lr=0.1)
    before = model.tasks['scene'].fc.weight.detach().clone()
    logs = model.train_step(labelled_batch(), wrapper)
    assert 'scene.loss' in logs and 'weight.scene' in logs
    assert float(logs['weight.scene']) > 0
    moved = (model.tasks['scene'].fc.weight - before).abs().max()
    assert moved > 1e-6


def test_auxiliary_task_gives_no_prediction_and_no_raw_output():
    model = model_with_auxiliary_scene_task().eval()
    batch = labelled_batch(2)
    with torch.no_grad():
        out = model.test_step(copy.deepcopy(batch))
        inputs = model.data_preprocessor(batch, False)['inputs']
        raw = model(inputs, mode='tensor')
    assert all('pred_image_label' not in s.metainfo for s in out)
    assert all('pred_instances' in s and 'pred_sem_seg' in s for s in out)
    # raw outputs: det's (cls_scores, bbox_preds) and seg's logits only
    assert len(raw) == 2 and isinstance(raw[1], torch.Tensor)
    names = RawOutputModel(model).output_names(inputs.float())
    assert names and not any(n.startswith('scene') for n in names)
    assert 'seg' in names and 'det.cls_scores.0' in names


def test_onnx_export_has_no_output_for_an_auxiliary_task(tmp_path):
    model = model_with_auxiliary_scene_task()
    out_file = str(tmp_path / 'aux.onnx')
    names = export_onnx(RawOutputModel(model), out_file, shape=(64, 64))
    graph_outputs = [o.name for o in onnx.load(out_file).graph.output]
    assert graph_outputs == list(names)
    assert not any(n.startswith('scene') for n in graph_outputs)
    assert graph_outputs[-1] == 'seg'


def test_metrics_only_auxiliary_tasks_answer_are_dropped():
    cfg = Config(dict(
        model=tiny_model_cfg(),
        val_evaluator=[dict(type='CocoMetric', metric='bbox'),
                       dict(type='SegIoUMetric')],
        test_evaluator=dict(type='SegIoUMetric')))
    cfg.model.tasks.seg.auxiliary = True
    drop_auxiliary_metrics(cfg)
    assert [m['type'] for m in cfg.val_evaluator] == ['CocoMetric']
    assert cfg.test_evaluator == []
    # a predicted task of the same kind keeps the metric
    cfg = Config(dict(model=tiny_model_cfg(),
                      val_evaluator=[dict(type='SegIoUMetric')]))
    cfg.model.tasks.road = copy.deepcopy(cfg.model.tasks.seg)
    cfg.model.tasks.seg.auxiliary = True
    drop_auxiliary_metrics(cfg)
    assert [m['type'] for m in cfg.val_evaluator] == ['SegIoUMetric']


def test_run_metrics_list_the_predicted_tasks_only(tmp_path):
    from types import SimpleNamespace

    from mmmtl.engine.hooks import RunMetricsHook
    runner = SimpleNamespace(model=model_with_auxiliary_scene_task(),
                             work_dir=str(tmp_path), seed=0)
    RunMetricsHook().after_test_epoch(runner, {'coco/bbox_mAP': 0.5})
    with open(tmp_path / 'metrics.json') as f:
        record = json.load(f)
    # delta-m compares these tasks' metrics: the auxiliary one has none
    assert sorted(record['tasks']) == ['det', 'seg']
