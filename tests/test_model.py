"""MultiTaskDetector: per-task losses, shared gradients, predictions."""

import pytest
import torch
from mmdet.registry import DATASETS, MODELS

from mtl_fixtures import batch_from, dataset_cfg, tiny_model_cfg


@pytest.fixture(scope='module')
def train_set(tiny_data_root):
    return DATASETS.build(dataset_cfg(tiny_data_root, 'train'))


@pytest.fixture(scope='module')
def val_set(tiny_data_root):
    return DATASETS.build(dataset_cfg(tiny_data_root, 'val'))


HEADS = [('RetinaHead', 'FPNHead'), ('FCOSHead', 'UPerHead')]


@pytest.mark.parametrize('det_head,seg_head', HEADS)
def test_loss_keys_are_prefixed_by_task(train_set, det_head, seg_head):
    model = MODELS.build(tiny_model_cfg(det_head=det_head, seg_head=seg_head))
    data = model.data_preprocessor(batch_from(train_set, [0, 1, 2]), True)
    losses = model(**data, mode='loss')
    det_keys = {k for k in losses if k.startswith('det.')}
    seg_keys = {k for k in losses if k.startswith('seg.')}
    assert det_keys | seg_keys == set(losses)
    assert 'det.loss_cls' in det_keys and 'det.loss_bbox' in det_keys
    assert 'seg.loss_ce' in seg_keys
    for key, value in losses.items():
        if 'loss' in key:
            v = sum(value) if isinstance(value, list) else value
            assert torch.isfinite(v) and v.requires_grad, key


def _backbone_grad(model, loss):
    model.zero_grad()
    loss.backward(retain_graph=True)
    return torch.cat([p.grad.reshape(-1) for p in model.backbone.parameters()
                      if p.grad is not None])


def test_both_heads_send_gradients_into_the_backbone(train_set):
    model = MODELS.build(tiny_model_cfg())
    data = model.data_preprocessor(batch_from(train_set, [0, 1]), True)
    feats = model.extract_feat(data['inputs'])
    per_task = model.task_losses(feats, data['data_samples'])
    det = model.parse_losses(per_task['det'])[0]
    seg = model.parse_losses(per_task['seg'])[0]
    g_det, g_seg = _backbone_grad(model, det), _backbone_grad(model, seg)
    assert g_det.abs().sum() > 0 and g_seg.abs().sum() > 0
    # and they are different gradients (two tasks, not one counted twice)
    cos = torch.nn.functional.cosine_similarity(g_det, g_seg, dim=0)
    assert cos.abs() < 0.99
    # the det loss does not reach the seg head and vice versa
    model.zero_grad()
    det.backward()
    assert all(p.grad is None or p.grad.abs().sum() == 0
               for p in model.tasks['seg'].parameters())


@pytest.mark.parametrize('det_head,seg_head', HEADS)
def test_predict_at_original_size(val_set, det_head, seg_head):
    model = MODELS.build(tiny_model_cfg(det_head=det_head, seg_head=seg_head))
    model.eval()
    batch = batch_from(val_set, [0, 1])
    # make the second image a different original size than its input
    with torch.no_grad():
        data = model.data_preprocessor(batch, False)
        data['data_samples'][1].set_metainfo(dict(ori_shape=(100, 90)))
        results = model(**data, mode='predict')
    assert len(results) == 2
    for res, ori in zip(results, [(64, 64), (100, 90)]):
        inst = res.pred_instances
        assert inst.bboxes.shape[-1] == 4
        assert len(inst.bboxes) == len(inst.scores) == len(inst.labels)
        seg = res.pred_sem_seg
        assert tuple(seg.sem_seg.shape) == (1, ) + ori
        assert torch.equal(seg.sem_seg, seg.data)
        assert seg.sem_seg.max() < 8 and seg.sem_seg.min() >= 0


def test_forward_tensor_mode_gives_raw_outputs_per_task(val_set):
    model = MODELS.build(tiny_model_cfg())
    data = model.data_preprocessor(batch_from(val_set, [0]), False)
    det_out, seg_out = model(**data, mode='tensor')
    cls_scores, bbox_preds = det_out
    assert len(cls_scores) == 4            # one per FPN level
    assert seg_out.shape[:2] == (1, 8)     # seg logits at stride 8


def test_bad_task_names_are_rejected():
    cfg = tiny_model_cfg()
    cfg['tasks'] = {'det.x': cfg['tasks']['det']}
    with pytest.raises(ValueError, match="det.x"):
        MODELS.build(cfg)
    cfg['tasks'] = {}
    with pytest.raises(ValueError, match='tasks'):
        MODELS.build(cfg)


@pytest.mark.parametrize('det_head', ['RetinaHead', 'FCOSHead'])
def test_init_weights_applies_each_heads_own_init_cfg(det_head):
    """The heads' init_cfg (mmdet's focal-loss bias prior, mmseg's
    std-0.01 classifier) must be applied: the tasks live in a container
    that init_weights() recurses into."""
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg(det_head=det_head))
    model.init_weights()
    det = model.tasks['det'].head
    cls = det.retina_cls if det_head == 'RetinaHead' else det.conv_cls
    # bias_prob=0.01: b = -log((1 - 0.01) / 0.01) = -4.59512
    torch.testing.assert_close(cls.bias.detach(),
                               torch.full_like(cls.bias, -4.59512))
    conv_seg = model.tasks['seg'].head.conv_seg
    assert torch.equal(conv_seg.bias.detach(), torch.zeros_like(conv_seg.bias))
    # Normal(0, 0.01), not PyTorch's default (std ~ 0.14 for 16 inputs)
    assert float(conv_seg.weight.std()) < 0.02
