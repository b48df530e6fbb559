"""Layers used by tasks: gradient reversal, distillation adaptors."""
from .gradient_reversal import GradientReversal, dann_lambda, reverse_gradient

__all__ = ['GradientReversal', 'dann_lambda', 'reverse_gradient']
