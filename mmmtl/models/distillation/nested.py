"""Per-sample slicing and re-batching of nested raw head outputs.

A task's raw outputs are a tensor, or (nested) lists/tuples of tensors
whose first dimension is the batch (e.g. a dense detection head's
``(cls_scores, bbox_preds)``, one tensor per level each).
"""
from typing import List

import torch


def sample_of(outs, i: int):
    """The outputs of sample ``i``: each tensor's row ``i``, same nesting."""
    if isinstance(outs, torch.Tensor):
        return outs[i]
    if isinstance(outs, (list, tuple)):
        return type(outs)(sample_of(o, i) for o in outs)
    raise TypeError(f'raw outputs of type {type(outs).__name__}: expected '
                    'tensors in (nested) lists/tuples')


def batch_of(per_sample: List):
    """The inverse of :func:`sample_of` over all samples: tensors stacked."""
    first = per_sample[0]
    if isinstance(first, torch.Tensor):
        return torch.stack(per_sample)
    return type(first)(batch_of([s[k] for s in per_sample])
                       for k in range(len(first)))


def flat_tensors(outs) -> List[torch.Tensor]:
    """The tensors of nested outputs, in order."""
    if isinstance(outs, torch.Tensor):
        return [outs]
    return [t for o in outs for t in flat_tensors(o)]
