"""Brian2 2.11.0 worker, workload B: the CUBA network of Brian2's ``examples/CUBA.py`` (4,000 LIF, 1 s, dt 0.1 ms).

Variants:

* ``cython``: runtime mode, Cython code generation. Code generation and compilation happen in setup
  (``net.run(0 ms)``); each measurement restores the stored initial state (``net.restore()``) and times
  ``net.run(1 s)``: wall and CPU time of this process.
* ``standalone``: C++ standalone (``set_device('cpp_standalone', build_on_run=False)``, OpenMP off, so
  one thread). Setup generates and compiles the project once; each measurement re-runs the compiled binary
  (``device.run()``, the same initial state). Reported: wall time of ``device.run()`` (process start,
  initialisation, simulation, writing results), CPU time of the child, and ``sim_s``, Brian2's own
  timing of the simulation loop (``device._last_run_time``), which the issue's 0.074 s most likely is.

The network code is ``bench_cuba.BRIAN2_NETWORK`` (one copy for both benchmarks). Brian2 uses float64.

Usage: ``python w_brian2.py cython|standalone [SEED] [BUILD_DIR]``.
"""
from __future__ import annotations

import resource
import tempfile
import time

from _worker import add_bench_dir, serve, timed


def names(ns: dict) -> dict:
    """The constants the network equations use (Brian2 would look in the caller's frame, not in ``ns``)."""
    return {k: ns[k] for k in ("taum", "taue", "taui", "Vt", "Vr", "El", "we", "wi")}


def setup(args: list[str]):
    add_bench_dir()
    import bench_cuba
    import brian2

    variant = args[0] if args else "cython"
    seed_value = int(args[1]) if len(args) > 1 else 1
    ns: dict = {}
    exec("from brian2 import *", ns)  # noqa: S102 - Brian2's example style: the network code uses its names
    b2 = brian2
    b2.seed(seed_value)
    meta = {"version": b2.__version__, "variant": variant}
    if variant == "cython":
        b2.prefs.codegen.target = "cython"
        exec(bench_cuba.BRIAN2_NETWORK, ns)  # noqa: S102
        net = b2.Network(ns["P"], ns["Ce"], ns["Ci"], ns["s_mon"])
        net.run(0 * b2.ms, namespace=names(ns))  # code generation and compilation
        net.store("start")

        def measure() -> dict:
            net.restore("start")
            n0 = int(ns["s_mon"].num_spikes)
            _, wall, cpu = timed(lambda: net.run(1 * b2.second, namespace=names(ns)))
            spikes = int(ns["s_mon"].num_spikes) - n0
            return {"wall_s": wall, "cpu_s": cpu, "rate_hz": spikes / 4000.0}

        meta["synapses"] = len(ns["Ce"]) + len(ns["Ci"])
        return meta, measure
    if variant != "standalone":
        raise ValueError(f"unknown Brian2 variant {variant!r}: use 'cython' or 'standalone'")
    # a kept directory lets make skip the compilation when the generated code is unchanged
    directory = args[2] if len(args) > 2 else tempfile.mkdtemp(prefix="np_brian2_standalone_")
    b2.set_device("cpp_standalone", build_on_run=False, directory=directory)
    b2.prefs.devices.cpp_standalone.openmp_threads = 0
    exec(bench_cuba.BRIAN2_NETWORK, ns)  # noqa: S102
    net = b2.Network(ns["P"], ns["Ce"], ns["Ci"], ns["s_mon"])
    net.run(1 * b2.second, namespace=names(ns))
    t0 = time.perf_counter()
    b2.device.build(directory=directory, compile=True, run=False)
    meta["build_s"] = time.perf_counter() - t0
    device = b2.get_device()

    def measure() -> dict:
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        _, wall, _ = timed(lambda: device.run(directory=directory, with_output=False))
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
        spikes = int(ns["s_mon"].num_spikes)
        return {"wall_s": wall, "cpu_s": cpu, "sim_s": float(device._last_run_time), "rate_hz": spikes / 4000.0}

    meta["directory"] = directory
    return meta, measure


if __name__ == "__main__":
    serve(setup)
