"""CPU thread policy for small models.

Steps of a small model (a spiking net on a table: tens of thousands of parameters) are too small
to split across threads, and when another process keeps a core busy, torch's threads wait for
each other: the 19,000-parameter default spiking net trained 12x slower on two threads than on
one (9.6 s against 0.8 s on a 120-row table, one core busy). :func:`cpu_threads` runs a block on
the number of threads :func:`threads_for` picks, and restores torch's setting afterwards.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch

__all__ = ["SMALL_MODEL_PARAMS", "cpu_threads", "threads_for"]

#: Models with fewer parameters than this train on one CPU thread under ``threads="auto"``.
SMALL_MODEL_PARAMS = 200_000


def threads_for(n_params: int, threads: int | str | None = "auto") -> int | None:
    """Threads to train a model of ``n_params`` parameters with: ``"auto"``: 1 below
    :data:`SMALL_MODEL_PARAMS`, else None (torch's setting); an int: itself; None: None."""
    if threads == "auto":
        return 1 if n_params < SMALL_MODEL_PARAMS else None
    if threads is not None and not (isinstance(threads, int) and not isinstance(threads, bool) and threads >= 1):
        raise ValueError(f"threads must be 'auto', None or a positive integer, got {threads!r}")
    return threads


@contextlib.contextmanager
def cpu_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)`` (None: unchanged), then restore."""
    before = torch.get_num_threads()
    if n is None or n == before:
        yield
        return
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)
