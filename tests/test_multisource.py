"""Multi-source training: a detection-only and a segmentation-only source
mixed by source ratio into every batch, each task trained on its samples."""
import os.path as osp

import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner

from mmmtl.utils.labelled_fields import labelled_fields
from mtl_fixtures import REPO, tiny_model_cfg


def test_det_only_plus_seg_only_sources(tiny_data_root):
    cfg = Config.fromfile(osp.join(
        REPO, 'configs/_base_/datasets/synthetic_multisource.py'))
    loader_cfg = cfg.train_dataloader
    for ds in loader_cfg.dataset.datasets:
        ds.data_root = tiny_data_root
        ds.generate = None
    loader_cfg.num_workers = 0
    loader_cfg.persistent_workers = False
    loader_cfg.batch_size = loader_cfg.sampler.batch_size = 4
    loader_cfg.sampler.source_ratio = [1, 3]
    loader = Runner.build_dataloader(loader_cfg.to_dict(), seed=0)
    batch = next(iter(loader))
    samples = batch['data_samples']
    # the packing transform records what each sample is labelled for
    det_only = [s for s in samples
                if labelled_fields(s) == {'gt_instances'}]
    seg_only = [s for s in samples if labelled_fields(s) == {'gt_sem_seg'}]
    # ratio 1:3 of a batch of 4: one detection-only, three seg-only
    assert len(det_only) == 1 and len(seg_only) == 3
    assert all(len(s.gt_instances) == 0 for s in seg_only)
    assert all(len(s.gt_instances) > 0 for s in det_only)

    model = MODELS.build(tiny_model_cfg())
    wrapper = build_optim_wrapper(model, dict(
        type='MultiTaskOptimWrapper',
        constructor='MultiTaskOptimWrapperConstructor',
        optimizer=dict(type='SGD', lr=0.01), balancer=dict(type='MGDA')))
    logs = model.train_step(batch, wrapper)
    assert torch.isfinite(logs['det.loss']) and torch.isfinite(
        logs['seg.loss'])
    # each task saw only its own source's samples
    data = model.data_preprocessor(batch, True)
    det_task = model.tasks['det']
    kept = [s for s in data['data_samples'] if det_task.is_labeled(s)]
    assert len(kept) == 1
