"""Shared helpers of the balancer tests."""
import pytest
import torch


@pytest.fixture
def global_seeds():
    """The seeds a balancer built with ``seed`` gives torch's default
    generator, step after step, for code that draws from the global stream
    (``Balancer.random_draws(global_stream=True)``): numbers drawn from a
    generator seeded with ``seed``."""

    def seeds(seed):
        gen = torch.Generator().manual_seed(seed)
        while True:
            yield int(torch.randint(2**62, (), generator=gen))

    return seeds
