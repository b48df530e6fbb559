"""Config mismatches are named (config key and both numbers) at build time
or at the first forward pass, not deep inside a convolution or a loss."""
import re
from types import SimpleNamespace

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config

from mmmtl.engine.hooks import ConfigCheckHook
from mtl_fixtures import DET_CLASSES, SEG_CLASSES, tiny_model_cfg


def _forward(model, size=64):
    with torch.no_grad():
        model.extract_feat(torch.zeros(1, 3, size, size))


def _raises(cfg, message, forward=False):
    with pytest.raises(ValueError, match=re.escape(message)):
        model = MODELS.build(cfg)
        if forward:
            _forward(model)


def test_a_right_config_passes_both_checks():
    _forward(MODELS.build(tiny_model_cfg()))


def test_seg_in_channels_against_neck_out_channels():
    cfg = tiny_model_cfg()
    cfg['tasks']['seg']['head']['in_channels'] = [16, 32, 16]
    _raises(cfg, 'model.tasks.seg.head.in_channels[1]=32 but shared feature '
            'map 1 has 16 channels (model.neck (FPN) gives '
            'model.neck.num_outs=4 maps of model.neck.out_channels=16')


def test_seg_in_channels_entries_against_in_index():
    cfg = tiny_model_cfg()
    cfg['tasks']['seg']['head']['in_channels'] = [16] * 4
    _raises(cfg, 'model.tasks.seg.head.in_channels has 4 entries but '
            'model.tasks.seg.head.in_index=[0, 1, 2] selects 3 maps')


def test_in_index_beyond_the_neck_outputs():
    cfg = tiny_model_cfg()
    cfg['tasks']['seg']['head']['in_index'] = [0, 1, 4]
    _raises(cfg, 'model.tasks.seg.head.in_index=[0, 1, 4]: map 4 is not '
            'among the 4 shared feature maps (0..3;')


def test_feature_strides_against_the_maps_at_the_first_batch():
    cfg = tiny_model_cfg()
    cfg['tasks']['seg']['head']['feature_strides'] = [4, 8, 16]
    _raises(cfg, 'model.tasks.seg.head.feature_strides[0]=4 but shared '
            'feature map 0 is 8x8, stride 8 (the shared features of a '
            '64x64 input', forward=True)


def test_feature_strides_entries_against_in_index():
    cfg = tiny_model_cfg()
    cfg['tasks']['seg']['head']['feature_strides'] = [8, 16]
    _raises(cfg, 'model.tasks.seg.head.feature_strides has 2 entries but '
            'model.tasks.seg.head.in_index=[0, 1, 2] selects 3 maps')


def test_det_in_channels_against_neck_out_channels():
    cfg = tiny_model_cfg()
    cfg['tasks']['det']['head']['in_channels'] = 32
    _raises(cfg, 'model.tasks.det.head.in_channels=32 but shared feature '
            'map 0 has 16 channels')


def test_det_levels_against_the_neck_outputs():
    cfg = tiny_model_cfg()
    cfg['tasks']['det']['head']['anchor_generator']['strides'] = [8, 16, 32]
    _raises(cfg, 'model.tasks.det.head.anchor_generator.strides has 3 '
            'levels ([8, 16, 32]) but the head gets 4 maps')


def test_without_a_neck_the_first_batch_names_the_channels():
    """No neck settings to check at build: the features are checked."""
    cfg = tiny_model_cfg()
    cfg.pop('neck')
    del cfg['tasks']['det']
    cfg['tasks']['seg']['head']['in_channels'] = [16, 16, 16]
    _raises(cfg, 'model.tasks.seg.head.in_channels[0]=16 but shared feature '
            'map 0 has 8 channels (the shared features of a 64x64 input: 4 '
            'maps of [8, 16, 32, 64] channels)', forward=True)


# ------------------------------------------- against the data and options
def _runner(model, classes=DET_CLASSES, seg_classes=SEG_CLASSES,
            balancer=None):
    meta = dict(classes=classes, seg_classes=seg_classes)
    loop = SimpleNamespace(dataloader=SimpleNamespace(
        dataset=SimpleNamespace(metainfo=meta)))
    return SimpleNamespace(
        model=model, _train_loop=loop, _val_loop=None, _test_loop=loop,
        cfg=Config(dict(optim_wrapper=dict(balancer=balancer or dict(
            type='EqualWeighting')))))


@pytest.fixture(scope='module')
def model():
    return MODELS.build(tiny_model_cfg())


def test_matching_classes_and_options_pass(model):
    hook = ConfigCheckHook()
    hook.before_train(_runner(model))
    hook.before_test(_runner(model))


@pytest.mark.parametrize('task,message', [
    ('det', "model.tasks.det.head.num_classes=4 but the dataset of "
     "train_dataloader has 3 detection classes (metainfo['classes']"),
    ('seg', "model.tasks.seg.head.num_classes=8 but the dataset of "
     "train_dataloader has 9 segmentation classes (metainfo['seg_classes']"),
])
def test_num_classes_against_the_dataset(model, task, message):
    runner = _runner(model, classes=DET_CLASSES[:3]) if task == 'det' else \
        _runner(model, seg_classes=SEG_CLASSES + ('sand', ))
    with pytest.raises(ValueError, match=re.escape(message)):
        ConfigCheckHook().before_train(runner)


def test_test_dataset_classes_are_checked_before_testing(model):
    with pytest.raises(ValueError, match='dataset of test_dataloader'):
        ConfigCheckHook().before_test(_runner(model, classes=('a', 'b')))


def test_per_task_balancer_option_against_the_tasks(model):
    runner = _runner(model, balancer=dict(type='StaticWeighting',
                                          weights=[1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match=re.escape(
            "optim_wrapper.balancer.weights has 3 entries but the model has "
            "2 tasks (['det', 'seg']; one entry per task")):
        ConfigCheckHook().before_train(runner)
