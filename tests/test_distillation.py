"""Multi-task distillation from single-task teachers (Li & Bilen 2020)."""
import math

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.structures import BaseDataElement

from mmmtl.models.distillation import (TaskDistiller, logit_divergence,
                                       normalized_feature_distance)
from mmmtl.utils.task_selection import select_tasks
from mtl_fixtures import balancing_wrapper, random_batch, tiny_model_cfg


def test_feature_distance_by_hand():
    # two positions; at each the channel vector is L2-normalised first
    student = torch.tensor([[3., 1.], [4., 1.]]).view(1, 2, 1, 2)
    teacher = torch.tensor([[1., 2.], [0., 2.]]).view(1, 2, 1, 2)
    # (3,4)/5 = (0.6, 0.8) vs (1, 0): 0.4^2 + 0.8^2 = 0.8;
    # (1,1) and (2,2) point the same way: 0. Mean: 0.4
    got = normalized_feature_distance(student, teacher)
    assert float(got) == pytest.approx(0.4, abs=1e-6)
    # the scale of either side does not count
    assert float(normalized_feature_distance(10 * student, teacher)) == \
        pytest.approx(0.4, abs=1e-6)
    with pytest.raises(ValueError, match=r'\(1, 2, 1, 2\).*\(1, 3, 1, 2\)'):
        normalized_feature_distance(student, torch.zeros(1, 3, 1, 2))


def test_logit_divergence_by_hand():
    zero, ln3 = torch.tensor([[0., 0.]]), torch.tensor([[math.log(3), 0.]])
    # teacher softmax (3/4, 1/4), student (1/2, 1/2):
    # KL = 3/4 ln(3/2) + 1/4 ln(1/2) = 0.130812
    assert float(logit_divergence(zero, ln3, 'softmax')) == \
        pytest.approx(0.130812, abs=1e-6)
    # sigmoid: teacher p = sigmoid(ln 3) = 3/4, student 1/2: the same KL
    # per element, (0.130812 + 0) / 2 over the two elements
    assert float(logit_divergence(zero, ln3, 'sigmoid')) == \
        pytest.approx(0.130812 / 2, abs=1e-6)
    # temperature 2: p = sigmoid(ln(3) / 2) = sqrt(3) / (1 + sqrt(3)),
    # KL(p || 1/2) times T^2 = 4
    p = math.sqrt(3) / (1 + math.sqrt(3))
    want = 4 * (p * math.log(2 * p) + (1 - p) * math.log(2 * (1 - p)))
    got = logit_divergence(zero[:, :1], ln3[:, :1], 'sigmoid', 2.0)
    assert float(got) == pytest.approx(want, abs=1e-6)
    assert float(logit_divergence(ln3, ln3, 'softmax')) == \
        pytest.approx(0.0, abs=1e-7)


def test_task_distiller_on_hand_made_features():
    distiller = TaskDistiller(
        teacher='det', in_channels=2, teacher_channels=2, in_index=[0, 1],
        feat_weight=2.0, logit=dict(activation='softmax', index=0,
                                    loss_weight=0.5))
    with torch.no_grad():  # the adaptors made the identity
        for adaptor in distiller.adaptors:
            adaptor.weight.copy_(torch.eye(2).view(2, 2, 1, 1))
    level1 = torch.tensor([[3., 1.], [4., 1.]]).view(1, 2, 1, 2)
    feats = (torch.tensor([1., 0.]).view(1, 2, 1, 1), level1)
    teacher_feats = (torch.tensor([0., 1.]).view(2, 1, 1),
                     torch.tensor([[1., 2.], [0., 2.]]).view(2, 1, 2))
    teacher_logits = (torch.tensor([math.log(3), 0.]), torch.zeros(5))
    sample = BaseDataElement(teacher_outputs=dict(
        det=dict(feats=teacher_feats, logits=teacher_logits)))

    def head(_):  # the student's raw outputs: (logits, something else)
        return (torch.zeros(1, 2), torch.ones(1, 5))

    losses = distiller.loss(feats, head, [sample])
    # level 0: (1, 0) against (0, 1), 1 + 1 = 2; level 1: the 0.4 of
    # test_feature_distance_by_hand; summed over the levels, times 2
    assert float(losses['loss_distill_feat']) == pytest.approx(4.8, abs=1e-6)
    # 0.5 x the 0.130812 of test_logit_divergence_by_hand
    assert float(losses['loss_distill_logit']) == \
        pytest.approx(0.065406, abs=1e-6)
    with pytest.raises(KeyError, match='DistillationDataPreprocessor'):
        distiller.loss(feats, head, [BaseDataElement()])


def tiny_teacher(folder, task):
    """A tiny single-task teacher: its config file and checkpoint."""
    cfg = Config(dict(model=tiny_model_cfg()))
    select_tasks(cfg, [task])
    config, checkpoint = str(folder / f'{task}.py'), str(folder / f'{task}.pth')
    cfg.dump(config)
    torch.manual_seed(1)
    state = MODELS.build(cfg.model).state_dict()
    torch.save(dict(state_dict=state, meta={}), checkpoint)
    return dict(config=config, checkpoint=checkpoint, task=task)


def student_cfg(tmp_path, base=None):
    cfg = base or tiny_model_cfg()
    cfg['data_preprocessor'] = dict(
        cfg['data_preprocessor'], type='DistillationDataPreprocessor',
        teachers=dict(det=tiny_teacher(tmp_path, 'det'),
                      seg=dict(tiny_teacher(tmp_path, 'seg'), logits=True)))
    cfg['tasks']['det']['distill'] = dict(
        teacher='det', in_channels=16, teacher_channels=16,
        in_index=[0, 1, 2, 3])
    cfg['tasks']['seg']['distill'] = dict(
        teacher='seg', in_channels=16, teacher_channels=16,
        in_index=[0, 1, 2], logit=dict(activation='softmax', temperature=2))
    return cfg


def student(tmp_path):
    torch.manual_seed(0)
    model = MODELS.build(student_cfg(tmp_path))
    model.init_weights()  # RetinaHead's bias prior: a finite start
    return model


def test_teachers_are_frozen_outside_the_student(tmp_path):
    model = student(tmp_path)
    wrapper = balancing_wrapper(model, 'EqualWeighting', lr=0.05)
    adaptor = model.tasks['seg'].distiller.adaptors[0].weight
    adaptor_before = adaptor.detach().clone()
    model.train()
    logs = [model.train_step(random_batch(2, seed=s), wrapper)
            for s in range(4)]
    teachers = model.data_preprocessor.teachers
    teacher_params = [p for t in teachers.values() for p in t.parameters()]
    assert teacher_params and all(p.grad is None and not p.requires_grad
                                  for p in teacher_params)
    assert not any(t.training for t in teachers.values())
    # the teachers' weights are still their checkpoints'
    saved = torch.load(tmp_path / 'det.pth', weights_only=False)['state_dict']
    for key, value in teachers['det'].state_dict().items():
        assert torch.equal(value, saved[key]), key
    # not in the student's parameters, optimizer or state_dict
    ids = {id(p) for p in teacher_params}
    assert not ids & {id(p) for p in model.parameters()}
    optimized = [p for g in wrapper.optimizer.param_groups
                 for p in g['params']]
    assert not ids & {id(p) for p in optimized}
    assert not any('teacher' in k for k in model.state_dict())
    # the distillation losses are the tasks' and train the adaptors
    for key in ('det.loss_distill_feat', 'seg.loss_distill_feat',
                'seg.loss_distill_logit'):
        assert all(math.isfinite(float(log[key])) for log in logs), key
    assert (adaptor - adaptor_before).abs().max() > 0
    first, last = (float(log['seg.loss_distill_feat']) for log in
                   (logs[0], logs[-1]))
    assert last < first


def test_a_missing_teacher_checkpoint_names_the_baseline_command(tmp_path):
    model = student(tmp_path)
    (tmp_path / 'det.pth').unlink()
    with pytest.raises(FileNotFoundError, match=r'--tasks det'):
        model.data_preprocessor(random_batch(2), True)


def test_bf16_autocast_step(tmp_path):
    from mmengine.optim import build_optim_wrapper
    model = student(tmp_path)
    wrapper = build_optim_wrapper(model, dict(
        type='MultiTaskOptimWrapper',
        constructor='MultiTaskOptimWrapperConstructor',
        optimizer=dict(type='SGD', lr=0.01),
        balancer=dict(type='EqualWeighting'), amp=True, dtype='bfloat16'))
    seen = []
    model.data_preprocessor.register_forward_hook(
        lambda module, args, out: seen.append(out['data_samples'][0]))
    logs = model.train_step(random_batch(2), wrapper)
    # the teachers ran under the step's autocast; the losses are float
    teacher_feats = seen[0].teacher_outputs['det']['feats']
    assert teacher_feats[0].dtype == torch.bfloat16
    for key in ('det.loss_distill_feat', 'seg.loss_distill_logit'):
        assert logs[key].dtype == torch.float32
        assert math.isfinite(float(logs[key]))


def test_two_processes_match_one_on_the_global_batch(tmp_path):
    """Under DDP (2 gloo processes, each on half of the batch) the teachers
    run on each rank outside the DDP module, and the student ends where one
    process on the whole batch ends."""
    from mtl_ddp_worker import (_build, _train, _worker_model_cfg,
                                ddp_model_cfg, run_ranks)
    cfg = student_cfg(tmp_path, ddp_model_cfg())
    out = str(tmp_path / 'ddp.pth')
    run_ranks(_worker_model_cfg, (cfg, out), rendezvous=tmp_path)
    ddp = torch.load(out, weights_only=True)
    model, wrapper = _build('EqualWeighting', 'feature', model_cfg=cfg)
    single = _train(model, wrapper, [random_batch(4, seed=s) for s in (0, 1)])
    assert set(ddp) == set(single)
    assert not any('teacher' in key for key in single)
    for key, value in single.items():
        torch.testing.assert_close(ddp[key], value, rtol=1e-4, atol=1e-5,
                                   msg=key)
    # the adaptors trained (the comparison is not vacuous)
    init, _ = _build('EqualWeighting', 'feature', model_cfg=cfg)
    key = 'tasks.seg.distiller.adaptors.0.weight'
    assert (init.state_dict()[key] - single[key]).abs().max() > 1e-4
