"""Helpers of the inference / export tests: the demo config at test sizes,
a checkpoint of random weights, and predictions through the test pipeline."""
import copy
import os.path as osp

import torch
from mmdet.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from mmmtl.datasets.synthetic_dataset import SyntheticMultiTaskDataset
from mtl_fixtures import REPO, tiny_model_cfg

DEMO_CONFIG = osp.join(
    REPO, 'configs/synthetic/retinanet_r18-c32_fpn_semfpn_synthetic.py')
#: test-pipeline size: the 64 px synthetic images are resized up to it, so
#: predictions are rescaled back to the image
TEST_SCALE = (96, 96)


def config_for_tests(data_root: str, det_head: str = None) -> Config:
    """The demo config (or, with ``det_head``, the tiny test model with that
    detection head) reading ``data_root``'s val split at ``TEST_SCALE``;
    the 20 best boxes are kept whatever their score (``score_thr=0``), as
    random weights score low."""
    cfg = Config.fromfile(DEMO_CONFIG)
    if det_head is not None:
        cfg.model = Config(dict(model=tiny_model_cfg(det_head=det_head))).model
    cfg.model.tasks.det.test_cfg.update(score_thr=0.0, max_per_img=20)
    dataset = cfg.test_dataloader.dataset
    dataset.data_root = data_root
    dataset.generate = None
    for transform in dataset.pipeline:
        if transform.type == 'Resize':
            transform.scale = TEST_SCALE
    return cfg


def write_config_and_checkpoint(cfg: Config, folder: str, seed: int = 0):
    """``folder/model.py`` and ``folder/model.pth`` (random initial weights,
    with the synthetic classes as ``dataset_meta``). The detection head's
    biases get noise: its scores then spread out instead of all sitting at
    the prior (near-ties would make the order of boxes arbitrary)."""
    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    with torch.no_grad():
        for name, param in model.tasks.det.named_parameters():
            if name.endswith('bias'):
                param.add_(torch.randn_like(param) * 2)
    config_file = osp.join(folder, 'model.py')
    checkpoint = osp.join(folder, 'model.pth')
    cfg.dump(config_file)
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(
                        SyntheticMultiTaskDataset.METAINFO))), checkpoint)
    return config_file, checkpoint


def build_test_dataset(cfg: Config):
    return DATASETS.build(copy.deepcopy(cfg.test_dataloader.dataset))


def pipeline_predictions(model, dataset, indices):
    """The model's predictions on dataset items, as tools/test.py gets them
    (test pipeline, collate, ``test_step``)."""
    with torch.no_grad():
        return model.test_step(pseudo_collate([dataset[i] for i in indices]))
