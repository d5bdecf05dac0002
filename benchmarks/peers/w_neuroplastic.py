"""neuroplastic worker (runs in the current Python, where neuroplastic is installed).

Variants:

* workload A (``A NAME``): ``neuroplastic`` (``LIF()``, fastest registered CPU backend),
  ``neuroplastic-event`` (the same after ``Dense(spike_input=True)``), ``plain-loop``
  (bench_lif's hand-written PyTorch step loop with autograd over ``cur.unbind(0)``, as the snnTorch and
  Norse workers: the reference for ratios), ``plain-loop-indexed`` (the same loop indexing ``cur[t]``) and
  ``matmul-floor`` (only the Dense forward + backward), built by ``bench_lif.make_variants``.
* workload B (``B cuba [float32|float64] [SEED]``): ``cuba_network(4000)`` run for 1 s by the C event
  engine on one thread (``torch.set_num_threads(1)``), from a fresh state each measurement.
* Diehl & Cook (``DC IMAGES.npy N_NEURONS PER_ROUND [THREADS]``, one thread by default): milliseconds to train on one image (350 steps
  of 1 ms, STDP on, weight normalisation) with the fused C presentation, as in bench_plasticity's
  ``speed`` section; each measurement is the median over ``PER_ROUND`` consecutive images.

Usage: ``python w_neuroplastic.py A neuroplastic`` (normally started by ``benchmarks/peers.py run``).
"""
from __future__ import annotations

import statistics

from _worker import add_bench_dir, lif_setup, serve, timed


def setup_a(name: str):
    import bench_lif as bl

    def make_fn():
        variants = bl.make_variants([], compile_loop=False)
        if name not in variants:
            raise ValueError(f"unknown workload A variant {name!r}: choose from {sorted(variants)}")
        return variants[name]

    import neuroplastic

    meta, measure = lif_setup(make_fn, name=name)
    return {"version": neuroplastic.__version__, **meta}, measure


def setup_b(args: list[str]):
    import torch

    import neuroplastic
    from neuroplastic.network.graph import cuba_network
    from neuroplastic.network.monitors import SpikeMonitor

    dtype = {"float32": torch.float32, "float64": torch.float64}[args[0] if args else "float32"]
    seed = int(args[1]) if len(args) > 1 else 0
    torch.set_num_threads(1)
    net = cuba_network(4000, seed=seed)
    net.run(steps=10, dtype=dtype, backend="cpu_c")  # build the C kernel and the network arrays once

    def measure() -> dict:
        mon = SpikeMonitor()
        _, wall, cpu = timed(lambda: net.run(1.0, monitors=[mon], dtype=dtype, backend="cpu_c"))
        return {"wall_s": wall, "cpu_s": cpu, "rate_hz": mon.rate()}

    return {"version": neuroplastic.__version__, "dtype": str(dtype)[6:], "synapses": net.n_synapses,
            "threads": torch.get_num_threads()}, measure


def setup_dc(args: list[str]):
    import numpy as np
    import torch

    import neuroplastic
    from neuroplastic.plasticity.networks import DiehlCookParams
    from neuroplastic.plasticity.networks._dc_c import present_c
    from neuroplastic.plasticity.networks._dc_engine import normalize_input_major_

    images, n, per_round = args[0], int(args[1]), int(args[2])
    torch.set_num_threads(int(args[3]) if len(args) > 3 else 1)  # as the BindsNET worker
    x = torch.as_tensor(np.load(images)).float()
    p = DiehlCookParams()
    g = torch.Generator().manual_seed(0)
    w = (0.3 * torch.rand(784, n, generator=g)).contiguous()
    normalize_input_major_(w, p.norm)
    theta = torch.zeros(n)
    state = {"k": 0}

    def present() -> None:
        img = x[state["k"] % len(x)].reshape(1, -1)
        state["k"] += 1
        present_c(w, theta, img * (p.max_rate * p.dt), p, learn=True, generator=g)
        normalize_input_major_(w, p.norm)

    present()  # warm-up (and C build)

    def measure() -> dict:
        runs = [timed(present) for _ in range(per_round)]
        return {"wall_ms": 1e3 * statistics.median(r[1] for r in runs),
                "cpu_ms": 1e3 * statistics.median(r[2] for r in runs)}

    return {"version": neuroplastic.__version__, "n_neurons": n, "threads": torch.get_num_threads()}, measure


def setup(args: list[str]):
    add_bench_dir()
    workload, rest = args[0], args[1:]
    if workload == "A":
        return setup_a(rest[0])
    if workload == "B":
        return setup_b(rest)
    if workload == "DC":
        return setup_dc(rest)
    raise ValueError(f"unknown workload {workload!r}: use A, B or DC")


if __name__ == "__main__":
    serve(setup)
