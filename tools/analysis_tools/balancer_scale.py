"""What the scale of the Gramian does to each Gramian method's weights and
update.

For hand-made Gramians ``G`` (two orthogonal tasks whose gradient norms
differ 4x, two conflicting tasks, three random tasks) and factors ``c``
from 1e-8 to 1e4, every method is asked for its weights on ``c G`` (fresh
balancer each time). Printed per method and Gramian:

* ``deg``: the exponent ``d`` in ``w(cG) ~ c^d w(G)`` (median over ``c``);
* ``cos``: the smallest cosine between the update on ``c G`` and on ``G``
  (the update ``J^T w`` lives in gradient space; its cosines come from
  ``G``);
* ``norm``: the exponent ``e`` in ``|update(cG)| ~ c^e |update(G)|``;
  equal weighting's is 0.5, since the gradients scale as ``sqrt(c)``;
* ``zero``: the number of ``c`` at which some weight is <= 0 or not finite.

    python tools/analysis_tools/balancer_scale.py [--methods NashMTL ...]
"""
import argparse
import math
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

import torch  # noqa: E402

METHODS = ['MGDA', 'IMTLG', 'PCGrad', 'GradVac', 'CAGrad', 'AlignedMTL',
           'UPGrad', 'DualProj', 'ConFIG', 'FairGrad', 'NashMTL']
SCALES = [1e-8, 1e-6, 1e-4, 1e-2, 1e2, 1e4]


def gramians():
    """Name -> a Gramian with entries around 1."""
    g = torch.Generator().manual_seed(0)
    J3 = torch.randn(3, 20, dtype=torch.float64, generator=g)
    J3[1] = -0.6 * J3[0] + 0.8 * J3[1]          # one conflicting pair
    ortho = torch.tensor([[2.0, 0.0], [0.0, 0.5]], dtype=torch.float64)
    conflict = torch.tensor([[1.0, 0.0], [-0.5, 0.4]], dtype=torch.float64)
    return {'orthogonal 4:1': ortho @ ortho.T,
            'conflicting': conflict @ conflict.T,
            '3 random': J3 @ J3.T / 20}


def weights(method: str, gramian: torch.Tensor, kwargs: dict):
    from mmmtl.registry import build_balancer
    bal = build_balancer(dict(type=method, num_tasks=gramian.shape[0],
                              **kwargs))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return bal.weigh(torch.ones(gramian.shape[0], dtype=gramian.dtype),
                         gramian)


def analyse(method: str, gramian: torch.Tensor, kwargs: dict) -> str:
    w0 = weights(method, gramian, kwargs)
    n0 = float(w0 @ gramian @ w0).__pow__(0.5)
    degs, exps, coss, zero = [], [], [], 0
    for c in SCALES:
        w = weights(method, c * gramian, kwargs)
        if not torch.isfinite(w).all() or (w <= 0).any():
            zero += 1
        n = float(w @ (c * gramian) @ w).__pow__(0.5)
        if n > 0 and n0 > 0:
            exps.append(math.log(n / n0) / math.log(c))
            # cos(J^T w, J^T w0) on the unscaled Gramian
            coss.append(float(w @ gramian @ w0) / (n / math.sqrt(c) * n0))
        ratio = w.norm() / w0.norm()
        if ratio > 0:
            degs.append(math.log(float(ratio)) / math.log(c))
    med = (lambda v: sorted(v)[len(v) // 2] if v else float('nan'))
    return (f'deg {med(degs):+.2f}  cos {min(coss, default=float("nan")):.4f}'
            f'  norm {med(exps):+.2f}  zero {zero}/{len(SCALES)}  '
            f'w(G) {[round(float(x), 4) for x in w0]}')


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--methods', nargs='+', default=METHODS)
    p.add_argument('--options', nargs='*', default=[],
                   help='key=value passed to every balancer, e.g. '
                   'update_scale=paper')
    args = p.parse_args()
    kwargs = {}
    for opt in args.options:
        key, value = opt.split('=', 1)
        kwargs[key] = value
    import mmmtl  # noqa: F401
    print(f'mmmtl from {osp.dirname(mmmtl.__file__)}  options {kwargs}')
    for method in args.methods:
        for name, gramian in gramians().items():
            print(f'{method:10s} {name:15s} '
                  f'{analyse(method, gramian, kwargs)}')


if __name__ == '__main__':
    main()
