"""Install mmmtl: ``pip install -e .`` (see tools/setup_env.sh for a fresh machine)."""
import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_requirements(name):
    """Read a requirements file, skipping comments and blank lines."""
    with open(osp.join(HERE, 'requirements', name)) as f:
        lines = (line.split('#', 1)[0].strip() for line in f)
        return [line for line in lines if line]


def read_version():
    scope = {}
    with open(osp.join(HERE, 'mmmtl', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='mmmtl',
    version=read_version(),
    description='Multi-task learning (detection + semantic segmentation) '
    'for the OpenMMLab stack',
    long_description=open(osp.join(HERE, 'README.md')).read()
    if osp.exists(osp.join(HERE, 'README.md')) else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    # configs by package scope (`_base_ = 'mmmtl::...'`): mmmtl/.mim/configs
    # links to configs/; a wheel gets copies
    package_data={'mmmtl': ['.mim/model-index.yml', '.mim/configs/**/*.py']},
    python_requires='>=3.9',
    install_requires=read_requirements('runtime.txt'),
    extras_require={
        'tests': read_requirements('tests.txt'),
        # solvers of CAGrad, Nash-MTL (cvxpy, ecos), UPGrad, DualProj
        # (quadprog, qpsolvers), FairGrad (scipy): docs/balancers.md
        'solvers': ['cvxpy', 'ecos', 'quadprog', 'qpsolvers', 'scipy'],
        # TensorboardVisBackend (docs/visualization.md)
        'tensorboard': read_requirements('tensorboard.txt'),
        # ONNX export and its check (tools/deployment/export_onnx.py)
        'onnx': read_requirements('onnx.txt'),
    },
    license='Apache License 2.0',
)
