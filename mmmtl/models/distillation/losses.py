"""The distances of multi-task distillation, on features and on logits."""
from typing import Sequence

import torch.nn.functional as F
from torch import Tensor


def normalized_feature_distance(student: Tensor, teacher: Tensor) -> Tensor:
    """Li & Bilen 2020's feature loss: the squared Euclidean distance between
    the two feature maps after L2 normalisation along the channels, at each
    position (N, H, W), averaged over positions (as in the authors' code). Normalising makes the
    student match the direction of the teacher's features, not their scale
    (single-task teachers' features differ in scale); the distance is in
    [0, 4]."""
    if student.shape != teacher.shape:
        raise ValueError(
            f'feature distillation: adapted student features of shape '
            f'{tuple(student.shape)} against teacher features of shape '
            f'{tuple(teacher.shape)}')
    s = F.normalize(student.float(), dim=1)
    t = F.normalize(teacher.float(), dim=1)
    return (s - t).pow(2).sum(dim=1).mean()


def logit_divergence(student: Tensor, teacher: Tensor, activation: str,
                     temperature: float = 1.0) -> Tensor:
    """KL(teacher || student) of the predicted distributions at temperature
    ``T``, times ``T**2`` (Hinton et al. 2015, so the gradient's scale does
    not depend on T), averaged over positions:

    * ``'softmax'``: one distribution over the classes (dim 1) per position;
    * ``'sigmoid'``: one Bernoulli distribution per element (sigmoid
      classifiers such as RetinaNet's), averaged over the elements.
    """
    if student.shape != teacher.shape:
        raise ValueError(
            f'logit distillation: student logits of shape '
            f'{tuple(student.shape)} against teacher logits of shape '
            f'{tuple(teacher.shape)}')
    s = student.float() / temperature
    t = teacher.float() / temperature
    if activation == 'softmax':
        kl = F.kl_div(F.log_softmax(s, dim=1), F.log_softmax(t, dim=1),
                      reduction='none', log_target=True).sum(dim=1)
    elif activation == 'sigmoid':
        p = t.sigmoid()
        # binary KL = cross-entropy(p, q) - entropy(p)
        kl = F.binary_cross_entropy_with_logits(s, p, reduction='none') - \
            F.binary_cross_entropy_with_logits(t, p, reduction='none')
    else:
        raise ValueError(f"logit distillation: activation={activation!r}, "
                         "expected 'softmax' or 'sigmoid'")
    return kl.mean() * temperature**2


def mean_of(values: Sequence[Tensor]) -> Tensor:
    """The mean of a sequence of scalar tensors."""
    return sum(values) / len(values)
