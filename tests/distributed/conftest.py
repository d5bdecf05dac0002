"""Run a function on N ranks of a gloo process group on 127.0.0.1 (forked processes, free port).

Each rank gets torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
``MASTER_PORT``), runs ``fn(rank, world_size)`` and sends back its return value or its error
through a file. Processes are forked from the test process (already importing torch and
neuroplastic, with the lazy torch modules warmed up), which keeps a 2-rank run to about a
second instead of the ~15 s that spawning costs on the shared 2-core machine.

Where a GPU is visible, autograd starts its device threads at the first backward pass of the test
process (CPU-only ones too), after which a forked rank cannot run backward ("Unable to handle
autograd's threading in combination with fork-based multiprocessing"). These tests then skip and
say how to run them: ``CUDA_VISIBLE_DEVICES= pytest tests/distributed`` (the ranks use gloo on CPU
anyway; NCCL is checked with torchrun on a GPU machine, see benchmarks/RESULTS.md).
"""
from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
from torch import nn

from neuroplastic.distributed import find_free_port, teardown


@pytest.fixture(autouse=True)
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@dataclass
class RankRun:
    """What one rank left behind: its exit status, return value or error, and its wall time."""

    rank: int
    exitcode: int | None
    result: Any = None
    error: str | None = None
    seconds: float = float("nan")


def _entry(fn: Callable[[int, int], Any], rank: int, world: int, port: int, out: Path, env: dict[str, str]) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank), **env)
    torch.set_num_threads(1)
    t0 = time.monotonic()
    code, payload = 0, {}
    try:
        payload["result"] = fn(rank, world)
    except BaseException as e:  # report everything, including KeyboardInterrupt from a watchdog
        code = 1
        payload["error"] = f"{type(e).__name__}: {e}"
        payload["traceback"] = traceback.format_exc()
    payload["seconds"] = time.monotonic() - t0
    try:
        tmp = out / f".rank{rank}.tmp"
        torch.save(payload, tmp)
        os.replace(tmp, out / f"rank{rank}.pt")
        teardown()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # skip interpreter teardown (seconds on a loaded machine)


@pytest.fixture(scope="session")
def _warm() -> None:
    """Import what forked ranks would otherwise import lazily (DDP, optimizers) once, here."""
    from torch.nn.parallel import DistributedDataParallel  # noqa: F401

    from neuroplastic.training import Model

    Model(nn.Linear(2, 2), device="cpu").compile("sgd", "mse")


@pytest.fixture
def launch(tmp_path: Path, _warm: None) -> Callable[..., list[RankRun]]:
    """``launch(fn, world_size=2, timeout=30, env={}, start=None)`` -> one :class:`RankRun` per started rank.

    ``start`` lists the ranks to start (default all); ``until`` the ranks whose end ends the run
    (default all; the others are then killed); ``launch.ok(fn, ...)`` returns the results and
    fails the test if any rank failed.
    """
    if "fork" not in mp.get_all_start_methods():
        pytest.skip("these tests fork ranks from the test process (POSIX only)")
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible, so autograd's device threads make forked ranks fail at backward: "
                    "run `CUDA_VISIBLE_DEVICES= pytest tests/distributed` to test the (gloo, CPU) ranks")

    def run(fn: Callable[[int, int], Any], world_size: int = 2, timeout: float = 30.0,
            env: dict[str, str] | None = None, start: list[int] | None = None,
            until: list[int] | None = None) -> list[RankRun]:
        out = tmp_path / f"ranks-{time.monotonic_ns()}"
        out.mkdir()
        ctx = mp.get_context("fork")
        port = find_free_port()
        ranks = list(range(world_size)) if start is None else list(start)
        procs = [ctx.Process(target=_entry, args=(fn, r, world_size, port, out, dict(env or {})), daemon=True)
                 for r in ranks]
        for p in procs:
            p.start()
        deadline = time.monotonic() + timeout
        for r, p in zip(ranks, procs):
            if until is None or r in until:
                p.join(max(0.0, deadline - time.monotonic()))
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()
        runs = []
        for r, p in zip(ranks, procs):
            f = out / f"rank{r}.pt"
            payload = torch.load(f, weights_only=False) if f.exists() else {}
            runs.append(RankRun(r, p.exitcode, payload.get("result"), payload.get("error"),
                                payload.get("seconds", float("nan"))))
        return runs

    def ok(fn: Callable[[int, int], Any], **kwargs: Any) -> list[Any]:
        """``run`` that fails the test (showing every rank's error) unless all ranks succeed."""
        runs = run(fn, **kwargs)
        bad = [f"rank {r.rank}: exit {r.exitcode}: {r.error}" for r in runs if r.exitcode != 0 or r.error]
        if bad:
            pytest.fail("\n".join(bad))
        return [r.result for r in runs]

    run.ok = ok  # type: ignore[attr-defined]
    return run
