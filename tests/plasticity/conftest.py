"""Shared fixtures of the plasticity tests."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_and_one_thread():
    """Seed, and run single-threaded: these tensors are tiny, and on a shared machine an OpenMP
    parallel region (e.g. torch.softmax on a [5, 3] tensor) can wait milliseconds for a core."""
    torch.manual_seed(0)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
