"""Preference vectors given in configs as lists."""
from typing import Optional, Sequence

import torch
from torch import Tensor


def pref_tensor(method: str, pref_vector: Optional[Sequence[float]],
                num_tasks: Optional[int]) -> Optional[Tensor]:
    """``pref_vector`` as a 1-D tensor (``None`` stays ``None``), checked
    against ``num_tasks``."""
    if pref_vector is None:
        return None
    pref = torch.as_tensor(pref_vector, dtype=torch.float64).flatten()
    if num_tasks is not None and pref.numel() != num_tasks:
        raise ValueError(f'{method}: `pref_vector` has {pref.numel()} '
                         f'entries for {num_tasks} tasks')
    return pref
