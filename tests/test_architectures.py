"""Cross-Stitch, MTAN and sharing-tree models: the units and masks on hand-made
numbers, the split of gradients between shared and task parts through the
task-balancing wrapper (both Jacobian modes), predict, bf16, config errors."""
import copy

import pytest
import torch
from mmdet.registry import MODELS

from architecture_fixtures import (arch_cfg, arch_ddp_cfg, arch_ddp_worker,
                                   build)
from mmmtl.models.architectures import CrossStitchUnit
from mtl_ddp_worker import _train, run_ranks
from mtl_fixtures import random_batch


ARCHS = ['cross-stitch', 'mtan', 'tree']


# ------------------------------------------------------------ the units
def test_cross_stitch_unit_on_a_hand_made_two_task_example():
    unit = CrossStitchUnit(2, channels=2, alpha_self=0.9, per_channel=False)
    torch.testing.assert_close(unit.alpha, torch.tensor([[0.9, 0.1],
                                                         [0.1, 0.9]]))
    x_a = torch.ones(1, 2, 2, 2)          # 8 values of 1
    x_b = torch.full((1, 2, 2, 2), 3.0)   # 8 values of 3
    y_a, y_b = unit([x_a, x_b])
    assert torch.allclose(y_a, torch.full_like(y_a, 0.9 * 1 + 0.1 * 3))
    assert torch.allclose(y_b, torch.full_like(y_b, 0.1 * 1 + 0.9 * 3))
    # L = sum(y_a) + 2 sum(y_b): dL/dalpha[t, s] = c_t * sum(x_s)
    (y_a.sum() + 2 * y_b.sum()).backward()
    grads = torch.stack([row.weight.grad for row in unit.rows])
    torch.testing.assert_close(grads, torch.tensor([[8.0, 24.0],
                                                    [16.0, 48.0]]))


def test_cross_stitch_unit_per_channel_and_default_off_diagonal():
    unit = CrossStitchUnit(3, channels=2, alpha_self=0.7)
    assert unit.alpha.shape == (3, 3, 2)
    # rows sum to 1: off-diagonal (1 - 0.7) / (3 - 1)
    torch.testing.assert_close(unit.alpha[0, :, 0],
                               torch.tensor([0.7, 0.15, 0.15]))
    with torch.no_grad():
        unit.rows[0].weight.copy_(torch.tensor([[1.0, 2.0], [0.5, 0.0],
                                                [0.0, -1.0]]))
    xs = [torch.tensor([1.0, 10.0]).view(1, 2, 1, 1) * (s + 1)
          for s in range(3)]   # channel values (1, 10), (2, 20), (3, 30)
    y0 = unit(xs)[0].flatten()
    # channel 0: 1*1 + 0.5*2 + 0*3; channel 1: 2*10 + 0*20 - 1*30
    torch.testing.assert_close(y0, torch.tensor([2.0, -10.0]))


def test_mtan_masks_scale_the_shared_stage_outputs():
    """With every mask's last convolution set to weight 0, bias logit(0.25)
    the masks are 0.25 everywhere: each task reads 0.25 x the backbone's
    own stage outputs."""
    model = MODELS.build(arch_cfg('mtan', attention_norm_cfg=None))
    model.eval()
    for chain in model.attention.values():
        for mask in chain.masks:
            mask[1].conv.weight.data.zero_()
            mask[1].conv.bias.data.fill_(torch.logit(torch.tensor(0.25)))
    image = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        shared = model.extract_feat(image)
        backbone_outs = model.backbone(image)
        for name in ('det', 'seg'):
            masked = model.attention[name](shared)
            for got, want in zip(masked, backbone_outs):
                torch.testing.assert_close(got, 0.25 * want)


def test_mtan_mask_of_a_stage_depends_on_the_task_features_below():
    """The chain: changing a task's stage-0 mask changes its stage-1
    features although the shared features stay the same."""
    model = MODELS.build(arch_cfg('mtan'))
    model.eval()
    image = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        shared = model.extract_feat(image)
        before = model.attention['det'](shared)
        model.attention['det'].masks[0][0].conv.weight.data.mul_(-3.0)
        after = model.attention['det'](shared)
    assert not torch.allclose(before[1], after[1])


# --------------------------------------------- shared / task-specific split
def expected_grads(model, batch, weights):
    """Independent of the wrapper: gradients of the uncut model. Shared
    parameters: those of sum_t w_t L_t; every other parameter: those of
    sum_t L_t (each task trains its own modules with its own gradient)."""
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    per_task = model.task_losses(model.extract_feat(data['inputs']),
                                 data['data_samples'])
    totals = {n: model.parse_losses(l)[0] for n, l in per_task.items()}
    names, params = zip(*model.named_parameters())
    shared = {id(p) for m in model.shared_modules() for p in m.parameters()}
    weighted = sum(weights[n] * totals[n] for n in totals)
    g_weighted = torch.autograd.grad(weighted, params, retain_graph=True,
                                     allow_unused=True)
    g_plain = torch.autograd.grad(sum(totals.values()), params,
                                  allow_unused=True)
    return {name: (gw if id(p) in shared else gp)
            for name, p, gw, gp in zip(names, params, g_weighted, g_plain)}


@pytest.mark.parametrize('mode', ['feature', 'parameter'])
@pytest.mark.parametrize('kind', ARCHS)
def test_wrapper_balances_the_shared_part_and_trains_the_task_parts(
        kind, mode):
    model, wrapper = build(arch_cfg(kind), 'UPGrad', mode,
                           accumulative_counts=2)
    shared = {id(p) for p in wrapper.shared_params}
    owned = {id(p) for ps in wrapper.task_params.values() for p in ps}
    assert shared and owned and not shared & owned
    assert shared | owned == {id(p) for p in model.parameters()}
    # two micro-steps per update: after one train_step the gradients are
    # still there, halved
    wrapper.initialize_count_status(model, 0, 100)
    batch = random_batch(2, seed=0)
    reference = copy.deepcopy(model)
    logs = model.train_step(copy.deepcopy(batch), wrapper)
    weights = {n: float(logs[f'weight.{n}']) for n in ('det', 'seg')}
    assert all(0.1 < w < 0.9 for w in weights.values())   # not 1: visible
    want = expected_grads(reference, batch, weights)
    for name, p in model.named_parameters():
        got = torch.zeros_like(p) if p.grad is None else 2 * p.grad
        expected = want[name] if want[name] is not None \
            else torch.zeros_like(p)
        torch.testing.assert_close(got, expected, rtol=2e-4, atol=1e-7,
                                   msg=name)


@pytest.mark.parametrize('kind', ARCHS)
def test_every_part_trains_and_predicts(kind):
    """A few steps with a gradient method (parameters of every module move),
    then predict writes boxes and a seg map for each image."""
    model, wrapper = build(arch_cfg(kind), 'MGDA', 'feature')
    parts = model.shared_modules() + [
        m for modules in model.task_modules().values() for m in modules]
    before = [[p.detach().clone() for p in m.parameters()] for m in parts]
    for step in range(3):
        logs = model.train_step(random_batch(2, seed=step), wrapper)
        assert torch.isfinite(logs['loss'])
    for part, params in zip(parts, before):
        if params:
            assert any(not torch.equal(p, q)
                       for p, q in zip(part.parameters(), params)), part
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(random_batch(2, seed=5), False)
        out = model.predict(data['inputs'], data['data_samples'])
    for sample in out:
        assert sample.pred_sem_seg.sem_seg.shape == (1, 64, 64)
        assert sample.pred_instances.bboxes.shape[1] == 4


def test_cross_stitch_columns_meet_only_in_the_units():
    """alpha = identity: the columns are two separate networks (the det
    loss gives no gradient to the seg column); the default start mixes
    them."""
    def det_grad_on_seg_column(**unit):
        model = MODELS.build(arch_cfg('cross-stitch', **unit))
        data = model.data_preprocessor(random_batch(2), True)
        losses = model.task_losses(model.extract_feat(data['inputs']),
                                   data['data_samples'])
        det = model.parse_losses(losses['det'])[0]
        det.backward()
        return sum(float(p.grad.abs().sum())
                   for p in model.backbones['seg'].parameters()
                   if p.grad is not None)

    assert det_grad_on_seg_column(alpha_self=1.0, alpha_other=0.0) == 0
    assert det_grad_on_seg_column() > 0


def test_sharing_tree_group_shares_its_branch():
    """Two seg tasks in one group read the same features; the det group
    reads others; the group's neck gets no gradient from det."""
    cfg = arch_cfg('tree', groups=dict(det_group=['det'],
                                       dense=['seg', 'seg2']))
    cfg['tasks']['seg2'] = copy.deepcopy(cfg['tasks']['seg'])
    model = MODELS.build(cfg)
    feats = model.task_features(model.extract_feat(torch.randn(2, 3, 64, 64)))
    assert feats['seg'] is feats['seg2']
    assert feats['det'][0].shape == feats['seg'][0].shape
    assert not torch.equal(feats['det'][0], feats['seg'][0])
    feats['det'][0].sum().backward()
    assert all(p.grad is None for p in model.necks['dense'].parameters())
    assert len(model.task_modules()['seg']) == 3   # task, stages, neck


# ------------------------------------------------------------------ bf16
@pytest.mark.parametrize('kind', ARCHS)
def test_bf16_autocast_step(kind):
    model, wrapper = build(arch_cfg(kind), 'MGDA', 'parameter', amp=True,
                           dtype='bfloat16')
    seen = []
    model.tasks['seg'].head.register_forward_pre_hook(
        lambda m, args: seen.append(args[0][0].dtype))
    before = copy.deepcopy(model.state_dict())
    logs = model.train_step(random_batch(2), wrapper)
    assert seen == [torch.bfloat16]
    assert torch.isfinite(logs['loss'])
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert sum(not torch.equal(v, before[k])
               for k, v in model.state_dict().items()) > len(before) // 2


# --------------------------------------------------------- config errors
@pytest.mark.parametrize('kind,options,message', [
    ('tree', dict(groups=dict(a=['det'])), "leaves out the tasks ['seg']"),
    ('tree', dict(groups=dict(a=['det', 'seg'], b=['seg'])),
     'in two groups'),
    ('tree', dict(groups=dict(a=['det'], b=['segm'])), "task 'segm'"),
    ('tree', dict(branch_stage=5), 'model.branch_stage=5'),
    ('cross-stitch', dict(stitch_stages=[4]), 'model.stitch_stages=[4]'),
    ('cross-stitch', dict(columns=dict(a=['det', 'seg'])), '2 columns'),
])
def test_config_errors_name_the_key(kind, options, message):
    with pytest.raises(ValueError, match=message.replace('[', r'\[')
                       .replace(']', r'\]')):
        MODELS.build(arch_cfg(kind, **options))


def test_branch_neck_against_heads_is_checked_at_build():
    cfg = arch_cfg('mtan')
    cfg['tasks']['seg']['head']['in_channels'] = [16, 16, 8]
    with pytest.raises(ValueError, match=r'in_channels\[2\]=8'):
        MODELS.build(cfg)


# ------------------------------------------------------------------- DDP
@pytest.mark.parametrize('kind,balancer,mode', [
    ('mtan', 'MGDA', 'feature'),
    ('cross-stitch', 'UPGrad', 'parameter'),
    ('tree', 'MGDA', 'feature'),
])
def test_two_processes_match_one_on_the_global_batch(tmp_path, kind,
                                                     balancer, mode):
    """2 gloo ranks of 2 images each end where 1 process of 4 does (MTAN
    and the tree in feature mode: the Jacobian over every shared tensor of
    the cut; Cross-Stitch in parameter mode)."""
    out = str(tmp_path / 'ddp')
    run_ranks(arch_ddp_worker, (kind, balancer, mode, out),
              rendezvous=tmp_path)
    rank0 = torch.load(out + '.0', weights_only=True)
    assert rank0['logs'] == torch.load(out + '.1', weights_only=True)['logs']
    model, wrapper = build(arch_ddp_cfg(kind), balancer, mode)
    single = _train(model, wrapper, [random_batch(4, seed=s) for s in (0, 1)])
    moved = 0.0
    initial, _ = build(arch_ddp_cfg(kind), balancer, mode)
    for key, value in single.items():
        torch.testing.assert_close(rank0['state'][key], value, rtol=1e-4,
                                   atol=1e-5, msg=key)
        moved += float((initial.state_dict()[key].float() -
                        value.float()).abs().sum())
    assert moved > 1e-3


# ----------------------------------------------------- benchmark script
def test_benchmark_script_rows(capsys):
    """One row per config, the reference's ratios 1.00, the parameter
    counts of the built models (no timing is checked: the figures belong
    to docs/architectures.md)."""
    import os.path as osp
    from mtl_fixtures import REPO, load_tool
    bench = load_tool('tools/analysis_tools/benchmark_architectures.py')
    configs = [osp.join(REPO, 'configs/synthetic', f'{prefix}retinanet_'
                        'r18-c32_fpn_semfpn_synthetic.py')
               for prefix in ('', 'sharing-tree_')]
    bench.run(bench.parse_args(
        configs + ['--names', 'hard', 'tree', '--rounds', '2', '--warmup',
                   '0', '--train-batch-size', '1', '--infer-batch-size', '1',
                   '--threads', '1', '--balancer', 'MGDA']))
    lines = [line for line in capsys.readouterr().out.splitlines()
             if line.startswith('| hard') or line.startswith('| tree')]
    assert len(lines) == 2
    hard, tree = [[c.strip() for c in line.split('|')[1:-1]]
                  for line in lines]
    assert hard[4].startswith('1.00') and hard[7].startswith('1.00')
    # the tree: stages 3-4 and the FPN once per group, stem + stages 1-2
    # shared
    assert float(tree[1]) > float(hard[1]) and float(tree[2]) < 0.5


def test_branch_features_against_heads_are_checked_at_the_first_pass():
    """No neck: the det head reads the masked backbone maps (strides 4 to
    32), not the FPN's maps of strides 8 to 64 it was configured for."""
    model = MODELS.build(arch_cfg('mtan', neck=None))
    data = model.data_preprocessor(random_batch(2), True)
    with pytest.raises(ValueError, match=r'strides\[0\]=8 but shared '
                       r'feature map 0 is 16x16, stride 4'):
        model.task_losses(model.extract_feat(data['inputs']),
                          data['data_samples'])


def test_mtan_exports_to_onnx(tmp_path):
    """The raw outputs go through each task's branch (task_features):
    onnxruntime gives PyTorch's outputs. (Cross-Stitch and the sharing tree
    export the same way.)"""
    pytest.importorskip('onnxruntime')
    from mmmtl.deployment.onnx_export import check_export, export_onnx
    from mmmtl.deployment.raw_outputs import RawOutputModel
    model, _ = build(arch_cfg('mtan'))
    raw = RawOutputModel(model.eval())
    export_onnx(raw, str(tmp_path / 'mtan.onnx'), (64, 64))
    diffs = check_export(str(tmp_path / 'mtan.onnx'), raw, (64, 64))
    assert len(diffs) >= 3 and max(diffs.values()) < 1e-4


@pytest.mark.parametrize('kind', ARCHS)
def test_csp_backbone_stages_map_to_its_out_indices(kind):
    """CSPNeXt counts its stem as layer 0: the architectures' necks get the
    maps hard sharing's neck gets (same sizes and channels)."""
    def model(kind):
        cfg = arch_cfg(kind, backbone=dict(
            type='CSPNeXt', arch='P5', deepen_factor=0.167,
            widen_factor=0.125, out_indices=(1, 2, 3, 4),
            norm_cfg=dict(type='GN', num_groups=4)))
        cfg['neck']['in_channels'] = [16, 32, 64, 128]
        return MODELS.build(cfg)

    image = torch.randn(2, 3, 64, 64)
    hard = model('hard')
    want = [f.shape for f in hard.extract_feat(image)]
    arch = model(kind)
    got = arch.task_features(arch.extract_feat(image))
    assert [f.shape for f in got['seg']] == want
    assert [f.shape for f in got['det']] == want


@pytest.mark.parametrize('kind', ['mtan', 'tree'])
def test_a_task_without_labels_leaves_its_branch_alone(kind):
    """A batch with no seg labels: the seg branch (MTAN's masks and neck,
    the tree's group stages and neck) gets no update, det's does."""
    from mtl_fixtures import without_seg_labels
    model, wrapper = build(arch_cfg(kind), 'UPGrad', 'feature')
    branch = {'mtan': lambda t: [model.attention[t].masks, model.necks[t]],
              'tree': lambda t: model.branch_modules(
                  'dense' if t == 'seg' else 'det_group')}[kind]

    def params(task):
        return [p.detach().clone() for m in branch(task)
                for p in m.parameters()]

    before = {t: params(t) for t in ('det', 'seg')}
    logs = model.train_step(without_seg_labels(random_batch(2)), wrapper)
    assert 'seg.loss' not in logs and torch.isfinite(logs['loss'])
    after = {t: params(t) for t in ('det', 'seg')}
    assert all(torch.equal(a, b)
               for a, b in zip(after['seg'], before['seg']))
    assert not all(torch.equal(a, b)
                   for a, b in zip(after['det'], before['det']))
