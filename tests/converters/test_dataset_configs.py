"""The real-dataset configs train on their converter's output: each
converter runs on its tiny fake dataset tree (the fixtures of the converter
tests), then the config, made tiny (see config_fixtures), trains two
iterations and validates once on it."""
import math

import pytest

from config_fixtures import (REAL_DATASET_FOLDERS, configs_in,
                             head_num_classes, tiny_config,
                             train_and_validate)
# the fake dataset trees, as the converter tests build them
from converters.test_bdd100k_converter import bdd_root  # noqa: F401
from converters.test_cityscapes_converter import cityscapes_root  # noqa: F401
from converters.test_coco_stuff_converter import coco_root  # noqa: F401

CASES = {   # config -> (converter, fixture of its dataset tree)
    'cityscapes/retinanet_r50_fpn_semfpn_8xb2-40k_cityscapes-512x1024.py':
        ('cityscapes', 'cityscapes_root'),
    'bdd100k/retinanet_r50_fpn_semfpn_8xb2-40k_bdd100k-640x640.py':
        ('bdd100k', 'bdd_root'),
    'coco_stuff/retinanet_r50_fpn_semfpn_8xb2-80k_coco-stuff164k-640x640.py':
        ('coco_stuff', 'coco_root'),
}


def test_every_real_dataset_config_has_a_case():
    assert set(configs_in(REAL_DATASET_FOLDERS)) == set(CASES)


@pytest.mark.parametrize('name', sorted(CASES))
def test_real_dataset_config_trains_on_converted_data(
        name, request, load_converter, tmp_path):
    converter, tree_fixture = CASES[name]
    root = request.getfixturevalue(tree_fixture)
    load_converter(converter).convert(root, splits=['train', 'val'])
    # 96 px: the frames without a seg map leave one sample to the seg head
    cfg = tiny_config(name, root, tmp_path / 'work_dir', image_size=(96, 96))
    runner, losses, metrics = train_and_validate(cfg)
    assert all(math.isfinite(v) for v in losses.values()), losses
    # the config's class counts are its converter's
    meta = runner.val_dataloader.dataset.metainfo
    tasks = runner.model.tasks
    assert head_num_classes(tasks['det']) == len(meta['classes'])
    assert head_num_classes(tasks['seg']) == len(meta['seg_classes'])
    assert {'coco/bbox_mAP', 'seg/mIoU'} <= set(metrics), sorted(metrics)
