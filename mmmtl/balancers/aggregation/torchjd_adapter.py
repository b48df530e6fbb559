"""The adapter between mmmtl's balancers and torchjd.

torchjd (0.18) implements most Gramian-based methods as a ``Weighting``: a
callable ``G -> w`` on the ``T x T`` Gramian. Each mmmtl method wraps one in
:class:`TorchJDWeighting` and only states the paper, the rule and its
hyper-parameters. The adapter adds what mmmtl needs on top:

* an ``ImportError`` naming ``mmmtl[solvers]`` when a solver is missing;
* checkpointing of the state torchjd keeps between steps as plain
  attributes (GradVac's cosine targets, Nash-MTL's previous solution),
  through ``get_extra_state``/``set_extra_state``, in a form that loads
  with ``torch.load(weights_only=True)``;
* random draws (PCGrad's and GradVac's task orders) from the balancer's own
  seeded generator (:meth:`Balancer.random_draws`);
* scale: the torchjd object always sees ``G / s``, ``s`` the mean of
  ``G``'s diagonal (the mean squared gradient norm), and its weights are
  mapped back by ``s ** weight_degree``, the way the method's rule follows
  the Gramian's scale. torchjd's solvers and thresholds are absolute
  (UPGrad/DualProj/CAGrad's ``norm_eps`` on the trace, GradVac's ``eps``,
  the start points of Nash-MTL's and FairGrad's solvers): on the tiny
  Gramians of feature mode they silently turned the method into the mean,
  into no update at all, or into a failed solve;
* ``update_scale``: the paper's weights, or the same direction rescaled
  (see :func:`rescale_weights`).

This module is also the only place in mmmtl that touches torchjd's private
API (names torchjd does not document: the attributes holding a weighting's
state, Nash-MTL's problem rebuild). Each such use goes through
:func:`private_api`, which turns a change of that API into an error naming
the installed torchjd version and the one mmmtl was written for. Everything
else imports torchjd's public names: ``from torchjd.aggregation import X``.
"""
import contextlib
import logging
import math
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from typing import Any, Callable, ClassVar, Dict, Iterator, Optional, Tuple

import numpy as np
import torch
from mmengine.logging import print_log
from torch import Tensor, nn
from torchjd.aggregation import NashMTL

from ..base import GramianWeighting

#: How to get the optional solvers (the package's ``solvers`` extra).
SOLVERS_HINT = 'install the solvers extra: pip install "mmmtl[solvers]"'

#: ``update_scale`` values: the paper's weights, weights summing to ``T``
#: (equal weighting's sum), or the update's norm set to equal weighting's.
UPDATE_SCALES = ('paper', 'sum', 'norm')


def check_update_scale(method: str, update_scale: str) -> str:
    if update_scale not in UPDATE_SCALES:
        raise ValueError(f'{method}: update_scale must be one of '
                         f'{UPDATE_SCALES}, got {update_scale!r}')
    return update_scale


def rescale_weights(weights: Tensor, gramian: Tensor, mode: str) -> Tensor:
    """The weights times one positive factor (same direction of the update
    ``J^T w``): ``'paper'``: unchanged; ``'sum'``: ``sum_t w_t = T``, as
    equal weighting's weights; ``'norm'``: ``|J^T w| = |J^T 1|``, equal
    weighting's update norm. Left unchanged where the factor would not be
    positive and finite (weights summing to <= 0, a zero update)."""
    if mode == 'paper':
        return weights
    if mode == 'sum':
        target, own = float(weights.numel()), float(weights.sum())
    else:
        g = gramian.to(weights.dtype)
        target = math.sqrt(max(float(g.sum()), 0.0))
        own = math.sqrt(max(float(weights @ g @ weights), 0.0))
    if not (own > 0 and target > 0 and math.isfinite(target / own)):
        return weights
    return weights * (target / own)


def check_solvers(method: str, modules: Tuple[str, ...]) -> None:
    """Raise ``ImportError`` naming ``mmmtl[solvers]`` if any of ``modules``
    (importable module names) is missing."""
    missing = [m for m in modules if find_spec(m) is None]
    if missing:
        raise ImportError(f'{method} needs {", ".join(missing)}, which '
                          f'{"is" if len(missing) == 1 else "are"} not '
                          f'installed; {SOLVERS_HINT}')


def _encode(value: Any) -> Any:
    """A copy of ``value`` that ``torch.load(weights_only=True)`` accepts
    (numpy arrays become tagged tensors)."""
    if isinstance(value, Tensor):
        return value.detach().clone()
    if isinstance(value, np.ndarray):
        return {'__ndarray__': torch.from_numpy(np.array(value, copy=True))}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return tuple(_encode(v) for v in value)
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {'__ndarray__'}:
            return value['__ndarray__'].cpu().numpy().copy()
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, Tensor):
        return value.clone()
    if isinstance(value, tuple):
        return tuple(_decode(v) for v in value)
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value



# ----------------------------------------------------------------------
# torchjd's private API: every use in mmmtl is below
# ----------------------------------------------------------------------
#: The torchjd release whose private API this module was written for.
TORCHJD_EXPECTED = '0.18'
#: GradVacWeighting's attributes holding its state (the cosine targets).
GRADVAC_STATE = ('_phi_t', '_state_key')
#: Nash-MTL's weighting's attributes holding its state (step count,
#: previous solution and normalisation).
NASH_MTL_STATE = ('step', 'prvs_alpha', 'normalization_factor')
#: SDMGradWeighting's, MoDoWeighting's and CRMOGMWeighting's weights of the
#: previous step (the warm start of the next).
SDMGRAD_STATE = ('_w', '_state_key')
MODO_STATE = ('_lambda', '_state_key')
CR_MOGM_STATE = ('_lambda', )
#: ExcessMTLWeighting's weights, sums of squared gradients, baseline and
#: step count.
EXCESS_MTL_STATE = ('_weights', '_sq_grad_sum', '_initial_w',
                    '_warmup_w_sum', '_n_steps', '_state_key')


def torchjd_version() -> str:
    try:
        return version('torchjd')
    except PackageNotFoundError:
        return 'unknown'


@contextlib.contextmanager
def private_api(what: str) -> Iterator[None]:
    """Within the block, a missing attribute or module of torchjd becomes a
    ``RuntimeError`` that names ``what``, the installed torchjd version and
    the expected one."""
    try:
        yield
    except (AttributeError, ImportError) as e:
        raise RuntimeError(
            f"mmmtl uses torchjd's {what}, which is private API, written for "
            f'torchjd {TORCHJD_EXPECTED}.x; the installed torchjd is '
            f'{torchjd_version()}, where it changed ({e}). Install '
            f'torchjd~={TORCHJD_EXPECTED}.0, or port '
            f'mmmtl/balancers/aggregation/torchjd_adapter.py') from e


def nash_mtl_weighting(n_tasks: int, update_weights_every: int,
                       optim_niter: int) -> nn.Module:
    """torchjd's Nash-MTL weighting (of a matrix), unclipped."""
    with private_api('NashMTL.weighting'):
        return NashMTL(n_tasks=n_tasks, max_norm=0.0,
                       update_weights_every=update_weights_every,
                       optim_niter=optim_niter).weighting


def nash_mtl_solves_now(weighting: nn.Module) -> bool:
    """Whether this step of Nash-MTL's weighting solves (or reuses)."""
    with private_api('the step counter of NashMTL\'s weighting'):
        return weighting.step % weighting.update_weights_every == 0


def set_nash_mtl_start(weighting: nn.Module, alpha: Tensor) -> None:
    """Start Nash-MTL's next solve from ``alpha``."""
    with private_api('the warm start of NashMTL\'s weighting'):
        weighting.prvs_alpha = alpha.detach().cpu().double().numpy()


def rebuild_nash_mtl_problem(weighting: nn.Module) -> None:
    """torchjd builds Nash-MTL's cvxpy problem on its first step only:
    build it for a restored state, as the uninterrupted run has it."""
    with private_api('NashMTL\'s problem rebuild'):
        if weighting.step > 0:
            weighting._init_optim_problem()


def get_torchjd_state(weighting: Any, names: Tuple[str, ...]
                      ) -> Dict[str, Any]:
    with private_api(f'state attributes {names} of '
                     f'{type(weighting).__name__}'):
        return {name: _encode(getattr(weighting, name)) for name in names}


def set_torchjd_state(weighting: Any, names: Tuple[str, ...],
                      state: Dict[str, Any]) -> None:
    with private_api(f'state attributes {names} of '
                     f'{type(weighting).__name__}'):
        for name in names:
            getattr(weighting, name)        # still there?
        for name, value in state.items():
            if name in names:
                setattr(weighting, name, _decode(value))


class HoldsTorchJD(nn.Module):
    """Mixin of a balancer that holds a torchjd object as ``self.weighting``.

    The torchjd object is kept outside the module tree (a plain attribute):
    its state is checkpointed only through :meth:`get_extra_state`, as
    listed in :attr:`torchjd_state`, so that a fresh balancer (whose torchjd
    object has no state yet) loads a checkpoint without unexpected keys.
    """

    #: Attributes of the torchjd object that hold state between steps
    #: (names from this module: they are private to torchjd).
    torchjd_state: ClassVar[Tuple[str, ...]] = ()
    #: Modules the torchjd object needs beyond torch (from mmmtl[solvers]).
    solvers: ClassVar[Tuple[str, ...]] = ()

    def _build(self, factory: Callable[[], nn.Module]) -> None:
        """Build the torchjd object, turning a missing solver into an
        ``ImportError`` that names ``mmmtl[solvers]``."""
        name = type(self).__name__
        check_solvers(name, self.solvers)
        try:
            weighting = factory()
        except ImportError as e:        # a dependency torchjd checks itself
            raise ImportError(f'{name}: {e}; {SOLVERS_HINT}') from e
        # plain attribute, not a submodule: see the class docstring
        object.__setattr__(self, 'weighting', weighting)

    def _torchjd_state_on(self, device: torch.device) -> None:
        """Move the torchjd object's state tensors to ``device`` (a
        checkpoint may restore them elsewhere than the inputs are)."""
        with private_api(f'state attributes {self.torchjd_state} of '
                         f'{type(self.weighting).__name__}'):
            for name in self.torchjd_state:
                value = getattr(self.weighting, name)
                if isinstance(value, Tensor) and value.device != device:
                    setattr(self.weighting, name, value.to(device))

    def get_extra_state(self) -> Dict[str, Any]:
        return get_torchjd_state(self.weighting, self.torchjd_state)

    def set_extra_state(self, state: Optional[Dict[str, Any]]) -> None:
        set_torchjd_state(self.weighting, self.torchjd_state, state or {})


class TorchJDWeighting(HoldsTorchJD, GramianWeighting):
    """A :class:`GramianWeighting` whose weights come from a torchjd object.

    Subclasses call :meth:`_build` in their ``__init__`` with a factory of
    the torchjd ``Weighting`` (or ``Aggregator``), and may override
    :meth:`_solve` (how the torchjd object turns the Gramian into weights;
    default: call it on the Gramian). :meth:`_solve` is given ``G / s``
    (``s`` the mean of the diagonal); :attr:`weight_degree` maps its
    weights back to ``G``.

    The torchjd object is held as in :class:`HoldsTorchJD`.

    Args:
        num_tasks (int, optional): Number of tasks ``T``.
        seed (int, optional): Only for methods that draw random numbers
            (:attr:`uses_rng`): see :class:`Balancer`.
        update_scale (str, optional): ``'paper'``, ``'sum'`` or ``'norm'``
            (see :func:`rescale_weights`); default
            :attr:`default_update_scale`.
        recompute_every (int): See :class:`GramianWeighting`.
    """

    #: ``d`` in ``w(c G) = c^d w(G)`` for the method's rule: 0 for weights
    #: that depend on directions only, -1/2 for Nash-MTL.
    weight_degree: ClassVar[float] = 0.0
    #: ``update_scale`` when the config gives none.
    default_update_scale: ClassVar[str] = 'paper'

    def __init__(self, num_tasks: Optional[int] = None,
                 seed: Optional[int] = None,
                 update_scale: Optional[str] = None,
                 recompute_every: int = 1) -> None:
        super().__init__(num_tasks=num_tasks, seed=seed,
                         recompute_every=recompute_every)
        self.update_scale = check_update_scale(
            type(self).__name__, update_scale or self.default_update_scale)
        self._fallbacks = 0

    def _solve(self, gramian: Tensor) -> Tensor:
        """Weights from the Gramian (overridden by matrix-only methods)."""
        return self.weighting(gramian)

    def _match_pref_vector(self, ref: Tensor) -> None:
        """Move a torchjd preference vector to ``ref``'s dtype and device
        (torchjd returns it as given, and combines it with the Gramian)."""
        pref = getattr(self.weighting, 'pref_vector', None)
        if isinstance(pref, Tensor) and (pref.dtype != ref.dtype
                                         or pref.device != ref.device):
            self.weighting.pref_vector = pref.to(ref)

    def weigh(self, losses: Tensor, gramian: Tensor) -> Tensor:
        self._match_pref_vector(gramian)
        self._torchjd_state_on(gramian.device)
        weights = self._paper_weights(gramian)
        return rescale_weights(weights, gramian, self.update_scale)

    def _paper_weights(self, gramian: Tensor) -> Tensor:
        """The method's weights on ``G``, solved on ``G / s``."""
        s = float(gramian.diagonal().mean())
        if not (math.isfinite(s) and s > 0):    # all gradients are zero
            return self._seeded_solve(gramian)
        weights = self._seeded_solve(gramian / s)
        if self.weight_degree:
            weights = weights * s**self.weight_degree
        return weights

    def _seeded_solve(self, gramian: Tensor) -> Tensor:
        if not self.uses_rng:
            return self._solve(gramian)
        with self.random_draws(gramian.device, global_stream=True):
            return self._solve(gramian)

    def _warn_fallback(self, what: str) -> None:
        """Log a failed solve: the 1st, 10th, 100th... time."""
        self._fallbacks += 1
        if math.log10(self._fallbacks) % 1 == 0:
            print_log(f'{type(self).__name__}: {what} (solve failures so '
                      f'far: {self._fallbacks})', logger='current',
                      level=logging.WARNING)

    def extra_repr(self) -> str:
        return f'weighting={self.weighting!r}, ' \
            f'update_scale={self.update_scale!r}'
