"""Breadth: detector x seg head combinations, more tasks, soft sharing,
partial labels."""
import copy

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures.mask import BitmapMasks

from mmmtl.utils.labelled_fields import set_labelled_fields
from mtl_fixtures import random_batch, tiny_model_cfg, without_seg_labels

CH = 16


def faster_rcnn_task(with_mask=False):
    roi_head = dict(
        type='StandardRoIHead',
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=CH, featmap_strides=[8, 16, 32, 64]),
        bbox_head=dict(
            type='Shared2FCBBoxHead', in_channels=CH, fc_out_channels=32,
            roi_feat_size=7, num_classes=4,
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.] * 4,
                            target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False,
                          loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)))
    rcnn_train = dict(
        assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5,
                      neg_iou_thr=0.5, min_pos_iou=0.5, match_low_quality=False,
                      ignore_iof_thr=-1),
        sampler=dict(type='RandomSampler', num=64, pos_fraction=0.25,
                     neg_pos_ub=-1, add_gt_as_proposals=True),
        pos_weight=-1, debug=False)
    if with_mask:
        roi_head.update(
            mask_roi_extractor=dict(
                type='SingleRoIExtractor',
                roi_layer=dict(type='RoIAlign', output_size=14,
                               sampling_ratio=0),
                out_channels=CH, featmap_strides=[8, 16, 32, 64]),
            mask_head=dict(type='FCNMaskHead', num_convs=1, in_channels=CH,
                           conv_out_channels=CH, num_classes=4,
                           loss_mask=dict(type='CrossEntropyLoss',
                                          use_mask=True, loss_weight=1.0)))
        rcnn_train['mask_size'] = 28
    return dict(
        type='TwoStageDetectionTask',
        rpn_head=dict(
            type='RPNHead', in_channels=CH, feat_channels=CH,
            anchor_generator=dict(type='AnchorGenerator', scales=[2],
                                  ratios=[0.5, 1.0, 2.0],
                                  strides=[8, 16, 32, 64]),
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0] * 4,
                            target_stds=[1.0] * 4),
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True,
                          loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        roi_head=roi_head,
        train_cfg=dict(
            rpn=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.7,
                                   neg_iou_thr=0.3, min_pos_iou=0.3,
                                   match_low_quality=True, ignore_iof_thr=-1),
                     sampler=dict(type='RandomSampler', num=64,
                                  pos_fraction=0.5, neg_pos_ub=-1,
                                  add_gt_as_proposals=False),
                     allowed_border=-1, pos_weight=-1, debug=False),
            rpn_proposal=dict(nms_pre=200, max_per_img=100,
                              nms=dict(type='nms', iou_threshold=0.7),
                              min_bbox_size=0),
            rcnn=rcnn_train),
        test_cfg=dict(
            rpn=dict(nms_pre=200, max_per_img=100,
                     nms=dict(type='nms', iou_threshold=0.7),
                     min_bbox_size=0),
            rcnn=dict(score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5),
                      max_per_img=50, mask_thr_binary=0.5)))


def single_stage_task(kind):
    cfg = tiny_model_cfg()['tasks']['det']
    head = cfg['head']
    if kind == 'ATSSHead':
        head = dict(
            type='ATSSHead', num_classes=4, in_channels=CH, stacked_convs=1,
            feat_channels=CH, norm_cfg=dict(type='GN', num_groups=4),
            anchor_generator=dict(type='AnchorGenerator', ratios=[1.0],
                                  octave_base_scale=4, scales_per_octave=1,
                                  strides=[8, 16, 32, 64]),
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0] * 4,
                            target_stds=[0.1, 0.1, 0.2, 0.2]),
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0,
                          alpha=0.25, loss_weight=1.0),
            loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
            loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True,
                                 loss_weight=1.0))
        cfg['train_cfg'] = dict(assigner=dict(type='ATSSAssigner', topk=9),
                                allowed_border=-1, pos_weight=-1, debug=False)
    elif kind == 'RTMDetHead':
        head = dict(
            type='RTMDetHead', num_classes=4, in_channels=CH,
            stacked_convs=1, feat_channels=CH,
            anchor_generator=dict(type='MlvlPointGenerator', offset=0,
                                  strides=[8, 16, 32, 64]),
            bbox_coder=dict(type='DistancePointBBoxCoder'),
            loss_cls=dict(type='QualityFocalLoss', use_sigmoid=True,
                          beta=2.0, loss_weight=1.0),
            loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
            norm_cfg=dict(type='GN', num_groups=4),
            act_cfg=dict(type='SiLU'))
        cfg['train_cfg'] = dict(
            assigner=dict(type='DynamicSoftLabelAssigner', topk=13),
            allowed_border=-1, pos_weight=-1, debug=False)
    cfg['head'] = head
    return cfg


def seg_task(kind):
    common = dict(num_classes=8, dropout_ratio=0.0, align_corners=False,
                  norm_cfg=dict(type='GN', num_groups=4, requires_grad=True),
                  loss_decode=dict(type='CrossEntropyLoss',
                                   use_sigmoid=False, loss_weight=1.0))
    heads = dict(
        FPNHead=dict(type='FPNHead', in_channels=[CH] * 3, in_index=[0, 1, 2],
                     feature_strides=[8, 16, 32], channels=CH),
        UPerHead=dict(type='UPerHead', in_channels=[CH] * 4,
                      in_index=[0, 1, 2, 3], pool_scales=(1, 2), channels=CH),
        ASPPHead=dict(type='ASPPHead', in_channels=CH, in_index=0,
                      channels=CH, dilations=(1, 2, 3)),
        DepthwiseSeparableASPPHead=dict(
            type='DepthwiseSeparableASPPHead', in_channels=CH, in_index=0,
            channels=CH, dilations=(1, 2, 3), c1_in_channels=CH,
            c1_channels=8),
        SegformerHead=dict(type='SegformerHead', in_channels=[CH] * 4,
                           in_index=[0, 1, 2, 3], channels=CH))
    head = dict(heads[kind], **common)
    if kind == 'DepthwiseSeparableASPPHead':
        head['in_index'] = 1   # c1 (low-level) is inputs[0]
    return dict(type='SemanticSegmentationTask', head=head)


def with_masks(batch):
    for s in batch['data_samples']:
        h, w = s.metainfo['img_shape']
        masks = torch.zeros(len(s.gt_instances), h, w, dtype=torch.uint8)
        for i, (x1, y1, x2, y2) in enumerate(
                s.gt_instances.bboxes.tensor.round().long().tolist()):
            masks[i, y1:y2, x1:x2] = 1
        s.gt_instances.masks = BitmapMasks(masks.numpy(), h, w)
    return batch


DET = ['RetinaHead', 'FCOSHead', 'ATSSHead', 'RTMDetHead', 'FasterRCNN',
       'MaskRCNN']
SEG = ['FPNHead', 'UPerHead', 'ASPPHead', 'DepthwiseSeparableASPPHead',
       'SegformerHead']


def build(det, seg):
    cfg = tiny_model_cfg()
    if det in ('FasterRCNN', 'MaskRCNN'):
        cfg['tasks']['det'] = faster_rcnn_task(with_mask=det == 'MaskRCNN')
    elif det == 'FCOSHead':
        cfg = tiny_model_cfg(det_head='FCOSHead')
    elif det != 'RetinaHead':
        cfg['tasks']['det'] = single_stage_task(det)
    cfg['tasks']['seg'] = seg_task(seg)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


# every detector x every seg head: loss, backward and predict
COMBOS = [(d, s) for d in DET for s in SEG]


@pytest.mark.parametrize('det,seg', COMBOS)
def test_forward_backward_predict(det, seg):
    model = build(det, seg)
    batch = random_batch(2)
    if det == 'MaskRCNN':
        batch = with_masks(batch)
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    losses = model(**data, mode='loss')
    assert any(k.startswith('det.') for k in losses)
    assert 'seg.loss_ce' in losses
    if det in ('FasterRCNN', 'MaskRCNN'):
        assert 'det.loss_rpn_cls' in losses and 'det.loss_cls' in losses
    if det == 'MaskRCNN':
        assert 'det.loss_mask' in losses
    total, _ = model.parse_losses(losses)
    total.backward()
    assert all(p.grad is not None for p in model.backbone.parameters()
               if p.requires_grad)
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(copy.deepcopy(batch), False)
        out = model(**data, mode='predict')
    assert tuple(out[0].pred_sem_seg.sem_seg.shape[-2:]) == (64, 64)
    assert out[0].pred_instances.bboxes.shape[-1] == 4
    if det == 'MaskRCNN':
        assert 'masks' in out[0].pred_instances


def test_three_tasks_by_config_alone():
    """A second seg head (a 2-class 'drivable' map) and an image classifier
    beside detection + scene parsing, with the balancer seeing 4 tasks."""
    from mmengine.optim import build_optim_wrapper
    cfg = tiny_model_cfg()
    cfg['tasks']['drivable'] = seg_task('ASPPHead')
    cfg['tasks']['drivable']['head']['num_classes'] = 8
    cfg['tasks']['scene'] = dict(type='ImageClassificationTask',
                                 num_classes=3, in_channels=CH)
    model = MODELS.build(cfg)
    batch = random_batch(3)
    for i, s in enumerate(batch['data_samples']):
        s.set_metainfo(dict(image_label=i % 3))
    wrapper = build_optim_wrapper(model, dict(
        type='MultiTaskOptimWrapper',
        constructor='MultiTaskOptimWrapperConstructor',
        optimizer=dict(type='SGD', lr=0.01), balancer=dict(type='MGDA')))
    logs = model.train_step(batch, wrapper)
    for task in ('det', 'seg', 'drivable', 'scene'):
        assert f'weight.{task}' in logs and f'{task}.loss' in logs
    model.eval()
    batch = random_batch(2)
    with torch.no_grad():
        out = model.test_step(batch)
        inputs = model.data_preprocessor(batch, False)['inputs']
        logits = model.tasks['scene'](model.extract_feat(inputs))
    # each image's predicted label is its own logits' argmax
    assert [o.metainfo['pred_image_label'] for o in out] == \
        logits.argmax(dim=1).tolist()


def test_soft_sharing_task_specific_neck():
    """No shared neck: each task has its own FPN on the backbone."""
    cfg = tiny_model_cfg()
    neck = cfg.pop('neck')
    cfg['tasks']['det']['neck'] = copy.deepcopy(neck)
    cfg['tasks']['seg']['neck'] = copy.deepcopy(neck)
    model = MODELS.build(cfg)
    assert not model.with_neck
    data = model.data_preprocessor(random_batch(2), True)
    losses = model(**data, mode='loss')
    det_loss, _ = model.parse_losses(
        {k: v for k, v in losses.items() if k.startswith('det.')})
    det_loss.backward()
    # the det loss reaches the det neck, and nothing of the seg neck
    def lateral_grads(task):
        return [p.grad for p in
                model.tasks[task].neck.lateral_convs.parameters()]
    assert all(g is not None and g.abs().sum() > 0
               for g in lateral_grads('det'))
    assert all(g is None for g in lateral_grads('seg'))
    # shared parameters are the backbone's only
    assert [type(m).__name__ for m in model.shared_modules()] == ['ResNet']


# ------------------------------------------------------------ partial labels
def test_partial_labels_mask_each_task_per_sample():
    """In a batch of (both, boxes only, seg only), det's loss is the loss on
    samples 0 and 1 alone and seg's the loss on samples 0 and 2 alone:
    not 'no objects' for sample 2, not 'all ignore' for sample 1."""
    model = build('RetinaHead', 'FPNHead')
    model.tasks['seg'].head.loss_decode.avg_non_ignore = False
    batch = random_batch(3, seed=5)
    samples = batch['data_samples']
    set_labelled_fields(samples[2], ['gt_sem_seg'])  # boxes not annotated
    del samples[1].gt_sem_seg
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    feats = model.extract_feat(data['inputs'])
    got = model.task_losses(feats, data['data_samples'])

    def subset_loss(task, keep):
        sub = [data['data_samples'][i] for i in keep]
        f = tuple(x[keep] for x in feats)
        return model.tasks[task].loss_on_labeled(f, sub)

    want_det = subset_loss('det', [0, 1])
    want_seg = subset_loss('seg', [0, 2])
    for k in want_det:
        torch.testing.assert_close(sum(got['det'][k]), sum(want_det[k]))
    torch.testing.assert_close(got['seg']['loss_ce'], want_seg['loss_ce'])
    # by hand for seg: mean cross-entropy over the pixels of images 0 and 2
    head = model.tasks['seg'].head
    logits = head(tuple(x[[0, 2]] for x in feats))
    logits = torch.nn.functional.interpolate(logits, size=(64, 64),
                                             mode='bilinear')
    labels = torch.stack([data['data_samples'][i].gt_sem_seg.sem_seg[0]
                          for i in (0, 2)]).long()
    by_hand = torch.nn.functional.cross_entropy(logits, labels)
    torch.testing.assert_close(got['seg']['loss_ce'], by_hand)


def test_a_task_without_labelled_samples_sits_the_step_out():
    from mmengine.optim import build_optim_wrapper
    model = build('RetinaHead', 'FPNHead')
    batch = without_seg_labels(random_batch(2))
    wrapper = build_optim_wrapper(model, dict(
        type='MultiTaskOptimWrapper',
        constructor='MultiTaskOptimWrapperConstructor',
        optimizer=dict(type='SGD', lr=0.1), balancer=dict(type='MGDA')))
    before = {k: v.clone() for k, v in model.tasks['seg'].state_dict().items()}
    logs = model.train_step(batch, wrapper)
    assert 'weight.det' in logs and 'weight.seg' not in logs
    after = model.tasks['seg'].state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_dwa_weighs_the_present_task_and_counts_its_loss_only():
    """DWA keeps per-task loss histories: on a step where seg has no
    labelled sample, only det's loss is recorded."""
    from mmengine.optim import build_optim_wrapper
    model = build('RetinaHead', 'FPNHead')
    wrapper = build_optim_wrapper(model, dict(
        type='MultiTaskOptimWrapper',
        constructor='MultiTaskOptimWrapperConstructor',
        optimizer=dict(type='SGD', lr=0.0),
        balancer=dict(type='DWA', interval=2)))
    batch = without_seg_labels(random_batch(2))
    logs = model.train_step(batch, wrapper)
    assert float(logs['weight.det']) == 1.0 and 'weight.seg' not in logs
    assert wrapper.balancer.running_count.tolist() == [1, 0]
    model.train_step(random_batch(2), wrapper)
    # period complete: det's mean over its 2 steps, seg's over its 1
    means = wrapper.balancer.period_means[1]
    assert torch.isfinite(means).all() and int(wrapper.balancer.periods) == 1
