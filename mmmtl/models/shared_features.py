"""What a multi-task model hands its task-balancing optim wrapper: the shared
features, and the leaf views of them that the task-specific part reads."""
from dataclasses import dataclass
from typing import Sequence, Tuple

from torch import Tensor


@dataclass(frozen=True)
class SharedFeatures:
    """The cut between the shared part of a model and its tasks.

    Attributes:
        shared (tuple[Tensor]): Tensors in the autograd graph that every
            task's loss depends on and through which all shared parameters
            act (e.g. the neck's outputs). Feature-mode Jacobians are taken
            with respect to them, and the combined shared update is
            backpropagated from them into the shared parameters.
        head_inputs (tuple[Tensor]): Leaf views of ``shared`` (detached, no
            copy of the data; requiring grad where ``shared`` does). The
            task-specific part of the network (heads, and any task-specific
            modules above the shared part) reads these, so each task's loss
            is backpropagated down to them, one task at a time, and its graph
            freed as it goes.

    Build it with :meth:`cut`.
    """

    shared: Tuple[Tensor, ...]
    head_inputs: Tuple[Tensor, ...]

    def __post_init__(self) -> None:
        if len(self.shared) != len(self.head_inputs):
            raise ValueError(
                f'SharedFeatures: {len(self.shared)} shared tensors but '
                f'{len(self.head_inputs)} head inputs')
        for i, (f, h) in enumerate(zip(self.shared, self.head_inputs)):
            if h.grad_fn is not None or h.requires_grad != f.requires_grad:
                raise ValueError(
                    f'SharedFeatures: head_inputs[{i}] must be a leaf view '
                    f'of shared[{i}] (build it with SharedFeatures.cut)')

    @classmethod
    def cut(cls, shared: Sequence[Tensor]) -> 'SharedFeatures':
        """Cut the graph at ``shared``: the head inputs are
        ``f.detach().requires_grad_()`` (``f`` itself where it needs no
        gradient, e.g. a frozen backbone)."""
        shared = tuple(shared)
        return cls(shared, tuple(
            f.detach().requires_grad_() if f.requires_grad else f
            for f in shared))

    @property
    def trainable(self) -> Tuple[Tuple[Tensor, Tensor], ...]:
        """``(shared, head_input)`` pairs whose head input needs a
        gradient (the shared part is not frozen there)."""
        return tuple((f, h) for f, h in zip(self.shared, self.head_inputs)
                     if h.requires_grad)
