"""Shared machinery for the methods whose weights torchjd computes."""
from typing import Any, Callable, Dict, Optional, Sequence

import torch
from torch import Tensor

from ..base import GramianWeighting

SOLVERS_HINT = 'install the solvers extra: pip install "mmmtl[solvers]"'


class TorchJDWeighting(GramianWeighting):
    """A :class:`GramianWeighting` whose weights come from a torchjd
    ``Weighting`` (torchjd 0.18).

    Subclasses build the torchjd object in ``__init__`` through
    :meth:`_build`, which turns a missing optional solver into an
    ``ImportError`` naming mmmtl's extra, and list in ``state_attrs`` the
    attributes where the torchjd object keeps state between steps (saved
    in ``get_extra_state`` so that checkpoints and resume carry it).
    """

    #: attributes of the torchjd weighting that hold state between steps
    state_attrs: Sequence[str] = ()

    def _build(self, factory: Callable[[], Any]) -> None:
        try:
            self.weighting = factory()
        except ImportError as e:
            raise ImportError(
                f'{type(self).__name__} needs an optional solver ({e}); '
                f'{SOLVERS_HINT}') from e

    def weigh(self, losses: Tensor, gramian: Tensor) -> Tensor:
        self._check_losses(losses)
        return self.weighting(gramian)

    def get_extra_state(self) -> Dict[str, Any]:
        return {name: _to_saveable(getattr(self.weighting, name, None))
                for name in self.state_attrs}

    def set_extra_state(self, state: Optional[Dict[str, Any]]) -> None:
        for name, value in (state or {}).items():
            setattr(self.weighting, name, value)


def _to_saveable(value):
    if isinstance(value, Tensor):
        return value.detach().clone()
    return value
