"""Shared fixtures of the plasticity-network tests."""
from __future__ import annotations

import pytest
import torch

from neuroplastic.datasets import load_split


@pytest.fixture(autouse=True)
def _seed_and_one_thread():
    """Seed, and one intra-op thread: these small models run slower (and much slower on a busy
    machine) when two OpenMP threads spin on each tiny op."""
    torch.manual_seed(0)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def digits():
    """sklearn digits, stratified 75/25 split (seed 0), pixels / 16 in [0, 1]."""
    return load_split("digits")
