"""Fixtures shared by the tests (helpers live in mtl_fixtures.py)."""
import copy

import pytest

from mtl_fixtures import TINY_SIZE, tiny_model_cfg


@pytest.fixture(scope='session')
def tiny_data_root(tmp_path_factory):
    """A small synthetic multi-task dataset on disk (train 16, val 8),
    with depth maps."""
    from mmmtl.datasets.synthetic import generate_synthetic_dataset
    root = tmp_path_factory.mktemp('synthetic')
    generate_synthetic_dataset(str(root), num_train=16, num_val=8,
                               img_size=TINY_SIZE, seed=3, progress=False,
                               depth=True)
    return str(root)


@pytest.fixture
def model_cfg():
    return copy.deepcopy(tiny_model_cfg())
