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

``--replay TRACE.jsonl`` instead feeds the Gramians of a training run
(rebuilt from the ``grad_norm.<task>`` and ``cos.<a>-<b>`` that
``balancer_traces.py`` recorded) to every method, one balancer per method
following the run's steps, and prints per window of steps the median
weights, the median ratio of the update's norm to equal weighting's
(``|J^T w| / |J^T 1|``) and the steps where a weight is at most 1% of the
largest. For IMTL-G it also prints the largest difference between the
logged weights and the rule ``w ~ G^-1 sqrt(diag G)`` (if the run was an
IMTL-G run).
"""
import argparse
import json
import math
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

import torch  # noqa: E402

#: Gramian methods; SDMGrad, MoDo and CR-MOGM keep state between steps,
#: so theirs are the weights of a fresh balancer's first step
METHODS = ['MGDA', 'IMTLG', 'PCGrad', 'GradVac', 'CAGrad', 'AlignedMTL',
           'UPGrad', 'DualProj', 'ConFIG', 'FairGrad', 'NashMTL', 'SDMGrad',
           'MoDo', 'CRMOGM']
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
        return bal(torch.ones(gramian.shape[0], dtype=gramian.dtype),
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


def logged_gramians(path: str):
    """(logged weights, Gramian) of every step of a trace."""
    with open(path) as f:
        rows = [json.loads(line) for line in f]
    tasks = [k[len('grad_norm.'):] for k in rows[0]
             if k.startswith('grad_norm.')]
    if not tasks:
        raise SystemExit(f'{path} has no grad_norm.<task>: record a run of '
                         'a gradient method with this version of mmmtl')
    out = []
    for row in rows:
        n = torch.tensor([row[f'grad_norm.{t}'] for t in tasks],
                         dtype=torch.float64)
        cos = torch.eye(len(tasks), dtype=torch.float64)
        for a, ta in enumerate(tasks):
            for b, tb in enumerate(tasks[a + 1:], a + 1):
                cos[a, b] = cos[b, a] = row[f'cos.{ta}-{tb}']
        w = torch.tensor([row[f'weight.{t}'] for t in tasks],
                         dtype=torch.float64)
        out.append((w, n[:, None] * cos * n[None, :]))
    return tasks, out


def replay(path: str, methods, kwargs: dict, window: int) -> None:
    from mmmtl.registry import build_balancer
    tasks, steps = logged_gramians(path)
    rule = [(w / w.sum() - imtlg_rule(g)).abs().max() for w, g in steps]
    print(f'{path}: {len(steps)} steps, tasks {tasks}; logged weights vs '
          f'the IMTL-G rule: max difference {float(max(rule)):.2e}')
    for method in methods:
        bal = build_balancer(dict(type=method, num_tasks=len(tasks),
                                  **kwargs))
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            ws = [bal(torch.ones(len(tasks), dtype=torch.float64), g)
                  for _, g in steps]
        for start in range(0, len(steps), window):
            part = range(start, min(start + window, len(steps)))
            med = torch.stack([ws[i] for i in part]).median(0).values
            ratio = sorted(float(ws[i] @ steps[i][1] @ ws[i]) ** 0.5 /
                           float(steps[i][1].sum()) ** 0.5 for i in part)
            low = sum(bool((ws[i] <= 0.01 * ws[i].max()).any())
                      for i in part)
            print(f'{method:10s} steps {start}-{part[-1]}: weights '
                  f'{[round(float(x), 3) for x in med]}  |update|/|EW| '
                  f'{ratio[len(ratio) // 2]:.3g}  low-weight steps {low}')


def imtlg_rule(gramian: torch.Tensor) -> torch.Tensor:
    """IMTL-G's weights: G^-1 sqrt(diag G), normalised to sum to 1."""
    v = torch.linalg.pinv(gramian) @ gramian.diagonal().sqrt()
    return v / v.sum()


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--methods', nargs='+', default=METHODS)
    p.add_argument('--replay', help='a balancer_trace.jsonl to replay')
    p.add_argument('--window', type=int, default=50)
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
    if args.replay:
        replay(args.replay, args.methods, kwargs, args.window)
        return
    for method in args.methods:
        for name, gramian in gramians().items():
            print(f'{method:10s} {name:15s} '
                  f'{analyse(method, gramian, kwargs)}')


if __name__ == '__main__':
    main()
