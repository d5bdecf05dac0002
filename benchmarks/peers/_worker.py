"""The line protocol shared by every peer worker (standard library only: it runs in each peer's venv).

A worker is started by ``benchmarks/peers.py run`` as ``<venv python> benchmarks/peers/w_<peer>.py VARIANT
[ARGS...]``. It builds its model, warms it up and prints one JSON line ``{"ready": true, ...}`` (library
versions, firing rate...). Then, for every ``run`` line on standard input it takes one measurement and
prints one JSON line of figures; ``quit`` or end of input ends it. A failure prints ``{"error": ...}``.

Libraries that print to standard output (NEST's banner, Brian2's build logs) would break the protocol, so
:func:`serve` moves file descriptor 1 to standard error first and writes the JSON lines to a private
duplicate of the original standard output.
"""
from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

BENCH_DIR = Path(__file__).resolve().parent.parent  # benchmarks/: bench_lif.py, bench_cuba.py, ...

Measure = Callable[[], dict]
Setup = Callable[[list[str]], "tuple[dict, Measure]"]


def add_bench_dir() -> None:
    """Make ``import bench_lif`` / ``bench_cuba`` / ``bench_plasticity`` work from a worker."""
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))


def _private_stdout():
    """Return a text stream on the original stdout, and point fd 1 (and ``sys.stdout``) at stderr."""
    sys.stdout.flush()
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(fd, "w", buffering=1)


def serve(setup: Setup, argv: list[str] | None = None) -> None:
    """Run the protocol: ``setup(args) -> (meta, measure)``, then one ``measure()`` per ``run`` line."""
    out = _private_stdout()
    args = list(sys.argv[1:] if argv is None else argv)

    def emit(obj: dict) -> None:
        out.write(json.dumps(obj) + "\n")
        out.flush()

    t0 = time.perf_counter()
    try:
        meta, measure = setup(args)
    except Exception as exc:  # noqa: BLE001 - reported to the runner, which goes on with the other peers
        traceback.print_exc()
        emit({"error": f"setup failed: {type(exc).__name__}: {str(exc)[-1500:]}"})
        return
    emit({"ready": True, "setup_s": time.perf_counter() - t0, "python": sys.version.split()[0], **meta})
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "quit":
            break
        if cmd != "run":
            emit({"error": f"unknown command {cmd!r}: send 'run' or 'quit'"})
            continue
        try:
            emit(measure())
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            emit({"error": f"{type(exc).__name__}: {str(exc)[-1500:]}"})


def timed(fn: Callable[[], object]) -> tuple[object, float, float]:
    """``(result, wall seconds, CPU seconds of this process over all threads)`` of one call."""
    w0, c0 = time.perf_counter(), time.process_time()
    res = fn()
    return res, time.perf_counter() - w0, time.process_time() - c0


# --------------------------------------------------------------------------- workload A helpers
def lif_setup(make_fn: Callable[[], Callable], scale_input: float = 1.0, name: str = "") -> tuple[dict, Measure]:
    """Workload A around a spike function ``cur [T, B, N] -> spikes`` (None: the matmul floor).

    The data, Dense layer (``bench_lif.dense_for(name)``), loss and the train/inference steps are
    bench_lif's. ``scale_input`` is folded
    into the Dense weights and bias once (no per-step cost): peers whose LIF integrates ``beta v + I``
    instead of ``beta v + (1 - beta) I`` get ``1 - beta`` here, so that every variant sees the same
    dynamics and firing rate.
    """
    add_bench_dir()
    import bench_lif as bl
    import torch

    torch.set_num_threads(2)
    fn = make_fn()
    x, dense = bl.make_data()
    if scale_input != 1.0:
        with torch.no_grad():
            dense.weight.mul_(scale_input)
            dense.bias.mul_(scale_input)
    dense = bl.dense_for(name, dense)   # neuroplastic-event: Dense(spike_input=True), same weights
    for _ in range(2):
        bl.train_step(fn, x, dense)
    bl.infer_step(fn, x, dense)
    rate = None
    if fn is not None:
        with torch.no_grad():
            rate = float(fn(dense(x)).mean())

    def measure() -> dict:
        _, w, c = timed(lambda: bl.train_step(fn, x, dense))
        _, wi, _ = timed(lambda: bl.infer_step(fn, x, dense))
        return {"train_ms": 1e3 * w, "train_cpu_ms": 1e3 * c, "infer_ms": 1e3 * wi}

    return {"torch": torch.__version__, "threads": torch.get_num_threads(), "rate": rate}, measure
