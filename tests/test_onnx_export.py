"""ONNX export: onnxruntime matches PyTorch output by output, and the
post-processed ONNX outputs are the model's predictions on real images."""
import os.path as osp
import sys

import onnx
import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import load_checkpoint

from deploy_fixtures import (TEST_SCALE, build_test_dataset,
                             config_for_tests, pipeline_predictions,
                             write_config_and_checkpoint)
from mtl_fixtures import REPO

from mmmtl.deployment import (OnnxMultiTaskPredictor, RawOutputModel,
                              free_size_upsampling)

sys.path.insert(0, osp.join(REPO, 'tools', 'deployment'))
import export_onnx as export_tool  # noqa: E402

sys.path.pop(0)

MODELS_UNDER_TEST = {'demo': None, 'fcos': 'FCOSHead'}


@pytest.fixture(scope='module', params=sorted(MODELS_UNDER_TEST))
def exported(request, tiny_data_root, tmp_path_factory):
    """(config, checkpoint, onnx file) of a model exported by the tool."""
    cfg = config_for_tests(tiny_data_root,
                           det_head=MODELS_UNDER_TEST[request.param])
    folder = tmp_path_factory.mktemp(f'onnx_{request.param}')
    config_file, checkpoint = write_config_and_checkpoint(cfg, str(folder))
    onnx_file = str(folder / 'model.onnx')
    status = export_tool.main([config_file, checkpoint, '--out', onnx_file,
                               '--shape', *map(str, TEST_SCALE)])
    assert status == 0
    return cfg, checkpoint, onnx_file


def test_graph_input_outputs_and_opset(exported):
    cfg, _, onnx_file = exported
    graph = onnx.load(onnx_file)
    assert max(o.version for o in graph.opset_import
               if o.domain in ('', 'ai.onnx')) >= 17
    (image, ) = graph.graph.input
    dims = [d.dim_value for d in image.type.tensor_type.shape.dim]
    assert image.name == 'image' and dims == [1, 3, *TEST_SCALE]
    names = [o.name for o in graph.graph.output]
    levels = len(cfg.model.tasks.det.head.get(
        'strides', cfg.model.tasks.det.head.get(
            'anchor_generator', {}).get('strides', [])))
    assert names[:levels] == [f'det.cls_scores.{i}' for i in range(levels)]
    assert names[levels:2 * levels] == [
        f'det.bbox_preds.{i}' for i in range(levels)]
    assert names[-1] == 'seg'
    if cfg.model.tasks.det.head.type == 'FCOSHead':
        assert f'det.score_factors.{levels - 1}' in names


def test_tool_prints_each_difference_and_fails_over_tolerance(
        exported, capsys, monkeypatch):
    cfg, checkpoint, onnx_file = exported
    config_file = osp.join(osp.dirname(onnx_file), 'model.py')

    def reuse_export(model, out_file, shape, dynamic, opset):
        # the fixture's file: no second export
        return [o.name for o in onnx.load(out_file).graph.output]

    monkeypatch.setattr(export_tool, 'export_onnx', reuse_export)
    status = export_tool.main([config_file, checkpoint, '--out', onnx_file,
                               '--shape', *map(str, TEST_SCALE),
                               '--atol', '1e-12'])
    printed = capsys.readouterr().out
    assert status == 1 and 'FAILED' in printed
    assert 'det.cls_scores.0' in printed and 'seg ' in printed
    diffs = [float(line.split('=')[1].split()[0])
             for line in printed.splitlines() if 'max |' in line]
    assert len(diffs) > 2 and max(diffs) < 1e-3   # the export is close


def test_postprocessed_onnx_outputs_equal_pytorch(exported):
    cfg, checkpoint, onnx_file = exported
    detector = MODELS.build(cfg.model).eval()      # as tools/test.py has it
    load_checkpoint(detector, checkpoint, map_location='cpu')
    dataset = build_test_dataset(cfg)
    # real synthetic images, resized by the test pipeline to the exported
    # graph's size (TEST_SCALE)
    torch_samples = pipeline_predictions(detector, dataset, [0, 1, 2])
    predictor = OnnxMultiTaskPredictor(onnx_file, detector)
    for i, expected in enumerate(torch_samples):
        (got, ) = predictor(pseudo_collate([dataset[i]]))
        exp, res = expected.pred_instances, got.pred_instances
        assert len(exp) > 0
        assert torch.equal(res.labels, exp.labels)
        torch.testing.assert_close(res.bboxes, exp.bboxes, atol=1e-3, rtol=0)
        torch.testing.assert_close(res.scores, exp.scores, atol=1e-4,
                                   rtol=0)
        assert torch.equal(got.pred_sem_seg.sem_seg,
                           expected.pred_sem_seg.sem_seg)


def test_dynamic_export_runs_other_sizes(tiny_data_root, tmp_path):
    cfg = config_for_tests(tiny_data_root, det_head='FCOSHead')
    config_file, checkpoint = write_config_and_checkpoint(cfg, str(tmp_path))
    onnx_file = str(tmp_path / 'dynamic.onnx')
    # the tool checks a 1 x 64 x 64 and a 2 x 96 x 128 batch
    assert export_tool.main([config_file, checkpoint, '--out', onnx_file,
                             '--shape', '64', '64', '--dynamic']) == 0
    dims = onnx.load(onnx_file).graph.input[0].type.tensor_type.shape.dim
    assert all(d.dim_param for d in (dims[0], dims[2], dims[3]))


def test_free_size_upsampling_changes_no_output():
    from mtl_fixtures import tiny_model_cfg
    torch.manual_seed(0)
    cfg = tiny_model_cfg()
    cfg['tasks']['seg']['head']['in_channels'] = [16] * 4
    cfg['tasks']['seg']['head']['in_index'] = [0, 1, 2, 3]
    cfg['tasks']['seg']['head']['feature_strides'] = [8, 16, 32, 64]
    detector = MODELS.build(cfg).eval()
    image = torch.rand(2, 3, 96, 160)
    with torch.no_grad():
        before = detector._forward(image)[1]
        assert free_size_upsampling(detector) > 0
        assert torch.equal(detector._forward(image)[1], before)


def test_two_stage_task_is_refused_by_name():
    from mtl_fixtures import tiny_model_cfg
    cfg = Config(dict(model=tiny_model_cfg())).model
    cfg.tasks.det = dict(
        type='TwoStageDetectionTask',
        rpn_head=dict(type='RPNHead', in_channels=16, feat_channels=16,
                      anchor_generator=dict(type='AnchorGenerator',
                                            scales=[8], ratios=[1.0],
                                            strides=[8, 16, 32, 64]),
                      bbox_coder=dict(type='DeltaXYWHBBoxCoder',
                                      target_means=[.0] * 4,
                                      target_stds=[1.0] * 4),
                      loss_cls=dict(type='CrossEntropyLoss',
                                    use_sigmoid=True),
                      loss_bbox=dict(type='L1Loss')),
        roi_head=dict(
            type='StandardRoIHead',
            bbox_roi_extractor=dict(
                type='SingleRoIExtractor',
                roi_layer=dict(type='RoIAlign', output_size=7,
                               sampling_ratio=0),
                out_channels=16, featmap_strides=[8, 16, 32, 64]),
            bbox_head=dict(type='Shared2FCBBoxHead', in_channels=16,
                           fc_out_channels=32, roi_feat_size=7,
                           num_classes=4)),
        test_cfg=dict(rpn=dict(nms_pre=100, max_per_img=50,
                               nms=dict(type='nms', iou_threshold=0.7)),
                      rcnn=dict(score_thr=0.05, max_per_img=20,
                                nms=dict(type='nms', iou_threshold=0.5))))
    detector = MODELS.build(cfg)
    with pytest.raises(ValueError, match="task 'det' .*TwoStageDetectionTask"):
        RawOutputModel(detector)
