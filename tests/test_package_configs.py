"""Configs by package scope: ``_base_ = 'mmmtl::...'`` from any folder."""
import os
import os.path as osp
import subprocess
import sys
import textwrap

import pytest
from mmdet.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.config import config as mmengine_config

from mtl_fixtures import REPO

DEMO = 'synthetic/retinanet_r18-c32_fpn_semfpn_synthetic.py'


def write_user_config(folder) -> str:
    path = osp.join(str(folder), 'my_config.py')
    with open(path, 'w') as f:
        f.write(textwrap.dedent(f"""\
            _base_ = 'mmmtl::{DEMO}'
            model = dict(tasks=dict(seg=dict(head=dict(num_classes=5))))
            """))
    return path


def test_installed_package_has_the_configs():
    # the path mmengine's Config resolves `mmmtl::` with
    configs = osp.join(mmengine_config.get_installed_path('mmmtl'), '.mim',
                       'configs')
    assert osp.isfile(osp.join(configs, DEMO))
    assert osp.samefile(osp.join(configs, DEMO),
                        osp.join(REPO, 'configs', DEMO))


def test_base_by_package_from_a_folder_outside_the_repo(tmp_path,
                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(write_user_config(tmp_path))
    by_path = Config.fromfile(osp.join(REPO, 'configs', DEMO))
    assert cfg.model.tasks.seg.head.num_classes == 5
    assert cfg.model.tasks.det.head.num_classes == \
        by_path.model.tasks.det.head.num_classes
    assert cfg.default_scope == 'mmdet'
    # what the base gives is built in the scope 'mmmtl' (mmengine tags it
    # so): model, visualizer and dataset must all be found there
    assert cfg.model._scope_ == 'mmmtl'
    # (the tests run in the default scope 'mmdet', as the configs say)
    model = MODELS.build(cfg.model)
    assert model.tasks.seg.head.num_classes == 5
    # the Runner builds the visualizer from mmengine's root registry
    visualizer = MMENGINE_VISUALIZERS.build(
        dict(cfg.visualizer, name='package_scope_test'))
    assert type(visualizer).__name__ == 'MultiTaskVisualizer'
    dataset_cfg = dict(cfg.test_dataloader.dataset, lazy_init=True,
                       generate=None)
    assert type(DATASETS.build(dataset_cfg)).__name__ == \
        'SyntheticMultiTaskDataset'


def test_unknown_config_names_the_path(tmp_path):
    path = tmp_path / 'bad.py'
    path.write_text("_base_ = 'mmmtl::synthetic/no_such_config.py'\n")
    with pytest.raises(FileNotFoundError, match='no_such_config'):
        Config.fromfile(str(path))


def test_wheel_install_carries_the_configs(tmp_path):
    """A wheel (non-editable install) has the configs in .mim, and a config
    inheriting `mmmtl::` reads them from the installed copy."""
    wheels, target = tmp_path / 'wheels', tmp_path / 'site'
    pip = [sys.executable, '-m', 'pip', '--disable-pip-version-check', '-q']
    subprocess.run(pip + ['wheel', '--no-deps', '--no-build-isolation',
                          '-w', str(wheels), REPO], check=True, timeout=300,
                   cwd=str(tmp_path))
    (wheel, ) = wheels.glob('mmmtl-*.whl')
    subprocess.run(pip + ['install', '--no-deps', '--target', str(target),
                          str(wheel)], check=True, timeout=300)
    assert (target / 'mmmtl' / '.mim' / 'configs' / DEMO).is_file()
    assert not (target / 'mmmtl' / '.mim' / 'configs').is_symlink()
    config = write_user_config(tmp_path)
    # as the tools do: import mmmtl, then load the config and build
    code = ('import mmmtl\n'
            'from mmengine.config import Config\n'
            'from mmengine.registry import init_default_scope\n'
            'from mmdet.registry import MODELS\n'
            f'cfg = Config.fromfile({config!r})\n'
            'init_default_scope(cfg.default_scope)\n'
            'model = MODELS.build(cfg.model)\n'
            'print(mmmtl.__file__)\n'
            'print(model.tasks.seg.head.num_classes)\n')
    env = dict(os.environ, PYTHONPATH=str(target))
    out = subprocess.run([sys.executable, '-c', code], cwd=str(tmp_path),
                         env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    module_file, num_classes = out.stdout.split()[-2:]
    assert module_file.startswith(str(target)) and num_classes == '5'
