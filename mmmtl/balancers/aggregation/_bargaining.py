"""The bargaining condition of Nash-MTL and FairGrad, ``G w = w^(-1/alpha)``.

Nash-MTL (``alpha = 1``: ``G w = 1/w``) and FairGrad (any ``alpha > 0``)
ask for the positive weights whose improvements ``(G w)_t`` are
``w_t^(-1/alpha)``. These are the stationary points of

.. math::
    f(w) = \\tfrac12 w^\\top G w - \\sum_t h(w_t), \\qquad
    h'(w) = w^{-1/\\alpha}

(``h = log`` for ``alpha = 1``), a convex function on ``w > 0`` (``G`` is
positive semi-definite and ``h`` concave), so damped Newton steps from any
positive start find the solution whenever it exists. The papers' own
solvers (a sequence of convex problems for Nash-MTL, non-linear least
squares for FairGrad) run first; this is what they fall back to when they
fail.
"""
from typing import Optional

import torch
from torch import Tensor


def bargaining_residual(gramian: Tensor, weights: Tensor,
                        alpha: float = 1.0) -> float:
    """``max_t |(G w)_t w_t^(1/alpha) - 1|``: 0 at the solution, ``inf``
    if a weight is not positive and finite."""
    w = weights.double()
    if not bool(torch.isfinite(w).all()) or bool((w <= 0).any()):
        return float('inf')
    return float(((gramian.double() @ w) * w.pow(1.0 / alpha) - 1).abs()
                 .max())


def _objective(gramian: Tensor, w: Tensor, alpha: float) -> Tensor:
    if alpha == 1.0:
        h = w.log().sum()
    else:
        p = 1.0 - 1.0 / alpha
        h = (w.pow(p) / p).sum()
    return 0.5 * w @ gramian @ w - h


def solve_bargaining(gramian: Tensor, alpha: float = 1.0,
                     start: Optional[Tensor] = None, tol: float = 1e-10,
                     max_iters: int = 100) -> Tensor:
    """Positive ``w`` with ``G w = w^(-1/alpha)``, by damped Newton steps on
    the convex ``f`` of the module docstring, from ``start`` (if positive
    and finite) or from ``1/sqrt(diag G)`` (the solution for orthogonal
    gradients). A ridge of ``1e-12`` times the mean diagonal keeps the
    solution finite when the gradients are linearly dependent."""
    g = gramian.detach().double()
    n = g.shape[0]
    scale = float(g.diagonal().mean().clamp(min=torch.finfo(g.dtype).tiny))
    g = g + 1e-12 * scale * torch.eye(n, dtype=g.dtype, device=g.device)
    if start is not None and bargaining_residual(g, start, alpha) < 1e300:
        w = start.detach().double().to(g.device)
    else:
        w = g.diagonal().clamp(min=1e-12 * scale).rsqrt()
    f = _objective(g, w, alpha)
    for _ in range(max_iters):
        grad = g @ w - w.pow(-1.0 / alpha)
        hess = g + torch.diag(w.pow(-1.0 / alpha - 1.0) / alpha)
        step = -torch.linalg.solve(hess, grad)
        t = 1.0
        while bool((w + t * step <= 0).any()):
            t /= 2
        while t > 1e-12:
            f_new = _objective(g, w + t * step, alpha)
            if f_new <= f + 1e-4 * t * (grad @ step):
                break
            t /= 2
        w, f = w + t * step, _objective(g, w + t * step, alpha)
        if bargaining_residual(g, w, alpha) < tol:
            break
    return w.to(gramian.dtype)
