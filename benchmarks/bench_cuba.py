"""Workload B (CUBA, Vogels & Abbott 2005) and the event-driven scaling benchmark.

Usage::

    python benchmarks/bench_cuba.py                      # everything (Brian2 if found)
    python benchmarks/bench_cuba.py --no-scaling --repeats 3
    python benchmarks/bench_cuba.py --brian2-python /tmp/b2/bin/python

Workload B: the 4,000-neuron CUBA network of Brian2's ``examples/CUBA.py`` (80 % excitatory,
p = 0.02, taum = 20 ms, taue = 5 ms, taui = 10 ms, Vt = -50 mV, Vr = -60 mV, El = -49 mV,
we = 1.62 mV, wi = -9 mV, 5 ms refractory, v0 ~ U[Vr, Vt]) for 1 s at dt = 0.1 ms, on ONE core
(``torch.set_num_threads(1)``; the C engine is single-threaded). Reported: wall time (min over
repeats), CPU time of the process (robust to other load on a shared machine), mean rate; the
same for Brian2 (runtime mode, Cython target, compile excluded) when a Python with brian2 is
given or found at /tmp/b2/bin/python.

Scaling: CUBA at 4k/16k/64k neurons with the fan-out fixed at 80 synapses per neuron, at two
activity levels (CUBA as is, ~5-6 Hz; and ``i_bias = 15 mV``, ~20 Hz), plus the 4k network with
4 million extra synapses from a silent source (more synapses, the same events). Time is fitted as
``alpha * neuron_steps + beta * synaptic_events``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

# The CUBA network in Brian2 (examples/CUBA.py), run with ``from brian2 import *`` in scope; it defines
# P, Ce, Ci, s_mon. Shared with benchmarks/peers/w_brian2.py (runtime and C++ standalone).
BRIAN2_NETWORK = textwrap.dedent("""
    defaultclock.dt = 0.1*ms
    taum = 20*ms; taue = 5*ms; taui = 10*ms; Vt = -50*mV; Vr = -60*mV; El = -49*mV
    eqs = '''
    dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
    dge/dt = -ge/taue : volt
    dgi/dt = -gi/taui : volt
    '''
    P = NeuronGroup(4000, eqs, threshold='v>Vt', reset='v = Vr', refractory=5*ms, method='linear')
    P.v = 'Vr + rand() * (Vt - Vr)'
    P.ge = 0*mV; P.gi = 0*mV
    we = (60*0.27/10)*mV; wi = (-20*4.5/10)*mV
    Ce = Synapses(P, P, on_pre='ge += we'); Ci = Synapses(P, P, on_pre='gi += wi')
    Ce.connect('i<3200', p=0.02); Ci.connect('i>=3200', p=0.02)
    s_mon = SpikeMonitor(P)
""")

BRIAN2_SCRIPT = textwrap.dedent("""
    import json, sys, time
    from brian2 import *
    prefs.codegen.target = sys.argv[1]
    seed(int(sys.argv[2]))
""") + BRIAN2_NETWORK + textwrap.dedent("""
    net = Network(collect())
    net.run(0*ms)  # code generation and compilation
    t0, c0 = time.perf_counter(), time.process_time()
    net.run(1*second)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"spikes": int(s_mon.num_spikes), "rate": s_mon.num_spikes / 4000 / 1.0, "wall": wall,
                      "cpu": cpu, "synapses": len(Ce) + len(Ci)}))
""")


def timed_run(net, seconds: float, repeats: int, **kw):
    """Run ``net`` from a fresh state ``repeats`` times; return (min wall, min cpu, spike monitor of the last run)."""
    from neuroplastic.network.monitors import SpikeMonitor

    walls, cpus, mon = [], [], None
    for _ in range(repeats):
        mon = SpikeMonitor()
        t0, c0 = time.perf_counter(), time.process_time()
        net.run(seconds, monitors=[mon], **kw)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus), mon


def kernel_build_time() -> float | None:
    """Seconds to compile the C event kernel into an empty cache (None if it fails)."""
    from neuroplastic.kernels import _ccompile
    from neuroplastic.network import _event_c

    old = os.environ.get("NEUROPLASTIC_CACHE_DIR")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["NEUROPLASTIC_CACHE_DIR"] = tmp
        _ccompile.clear_loaded()
        t0 = time.perf_counter()
        ok = _event_c.available()
        dt = time.perf_counter() - t0
        if old is None:
            del os.environ["NEUROPLASTIC_CACHE_DIR"]
        else:
            os.environ["NEUROPLASTIC_CACHE_DIR"] = old
        _ccompile.clear_loaded()
    _event_c.available()  # reload from the regular cache
    return dt if ok else None


def workload_b(args) -> dict:
    import torch

    from neuroplastic.network.graph import cuba_network

    out: dict = {"build_kernel_s": kernel_build_time()}
    rows = []
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        net = cuba_network(4000, seed=seed)
        build = time.perf_counter() - t0
        for dtype in (torch.float32, torch.float64):
            net.run(steps=10, dtype=dtype)  # compile the network arrays once
            wall, cpu, mon = timed_run(net, 1.0, args.repeats, dtype=dtype, backend="cpu_c")
            rows.append({"engine": "cpu_c", "dtype": str(dtype)[6:], "seed": seed, "synapses": net.n_synapses,
                         "spikes": mon.count, "rate": mon.rate(), "wall": wall, "cpu": cpu, "build_net_s": build})
    net = cuba_network(4000, seed=0)
    for engine, kw, secs in (("reference", {"backend": "reference"}, 0.1), ("clock", {"mode": "clock"}, 0.02)):
        wall, cpu, mon = timed_run(net, secs, 1, **kw)
        rows.append({"engine": f"torch {engine}", "dtype": "float32", "seed": 0, "synapses": net.n_synapses,
                     "spikes": mon.count, "rate": mon.rate(), "wall": wall / secs, "cpu": cpu / secs,
                     "note": f"{secs} s simulated, scaled to 1 s"})
    out["neuroplastic"] = rows
    brian = []
    if args.brian2_python and Path(args.brian2_python).exists():
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write(BRIAN2_SCRIPT)
        for seed in range(args.seeds):
            proc = subprocess.run([args.brian2_python, f.name, "cython", str(seed + 1)], capture_output=True, text=True,
                                  env={**os.environ, "OMP_NUM_THREADS": "1"})
            line = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            if proc.returncode != 0 or not line:
                brian.append({"error": proc.stderr.strip()[-400:]})
                break
            brian.append({"seed": seed + 1, **json.loads(line[-1])})
        os.unlink(f.name)
    out["brian2"] = brian
    return out


def scaling(args) -> dict:
    import torch

    from neuroplastic.network.event import compile_network
    from neuroplastic.network.graph import cuba_network, fixed_probability

    def build(n: int, level: str):
        net = cuba_network(n, fan_out=80, seed=0, i_bias=15e-3 if level == "high" else 0.0)
        if level == "silent":  # 4M more synapses that never carry an event
            net.add_source("silent", 4000, [], steps=[])
            net.connect("silent", "E", fixed_probability(800 / 3200), weight=1e-3)
            net.connect("silent", "I", fixed_probability(200 / 800), weight=1e-3)
        net.run(steps=10)
        return net

    def row(net, level: str, wall: float, cpu: float, mon) -> dict:
        out_degree = compile_network(net, torch.float32).indptr.diff()  # over all synapses of each neuron
        lif = sum(p.size for p in net.populations.values() if hasattr(p, "params"))
        return {"neurons": lif, "level": level, "synapses": net.n_synapses, "spikes": mon.count,
                "rate": mon.count / (lif * args.duration), "events": int(out_degree[mon.indices].sum()),
                "neuron_steps": lif * round(args.duration / net.dt), "wall": wall, "cpu": cpu}

    rows = []
    for n in args.sizes:
        for level in ("low", "high"):
            net = build(n, level)
            rows.append(row(net, level, *timed_run(net, args.duration, args.repeats, backend="cpu_c")))
    # the silent-synapse control, interleaved with its baseline so that machine load hits both alike
    nets = {"low": build(4000, "low"), "silent": build(4000, "silent")}
    best: dict = {k: [float("inf"), float("inf"), None] for k in nets}
    for _ in range(args.repeats):
        for k, net in nets.items():
            wall, cpu, mon = timed_run(net, args.duration, 1, backend="cpu_c")
            best[k] = [min(best[k][0], wall), min(best[k][1], cpu), mon]
    control = [row(nets[k], f"{k} (paired)", *best[k]) for k in nets]
    marginal = {}
    for n in args.sizes:
        lo, hi = (next(r for r in rows if r["neurons"] == n and r["level"] == lv) for lv in ("low", "high"))
        marginal[n] = 1e9 * (hi["cpu"] - lo["cpu"]) / (hi["events"] - lo["events"])
    # least squares over the size/activity grid: cpu = alpha * neuron_steps + beta * events
    a = torch.tensor([[r["neuron_steps"], r["events"]] for r in rows], dtype=torch.float64)
    y = torch.tensor([r["cpu"] for r in rows], dtype=torch.float64)
    coef = torch.linalg.lstsq(a, y.unsqueeze(1)).solution.squeeze(1)
    return {"rows": rows + control, "marginal_ns_per_event": marginal,
            "ns_per_neuron_step": float(coef[0]) * 1e9, "ns_per_event": float(coef[1]) * 1e9}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=1.0, help="simulated seconds per scaling run")
    ap.add_argument("--sizes", type=int, nargs="+", default=[4000, 16000, 64000])
    ap.add_argument("--brian2-python", default="/tmp/b2/bin/python")
    ap.add_argument("--no-scaling", action="store_true")
    ap.add_argument("--no-cuba", action="store_true")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    res: dict = {"load_avg": os.getloadavg(), "python": sys.version.split()[0], "torch": torch.__version__}
    if not args.no_cuba:
        b = workload_b(args)
        res["workload_b"] = b
        print(f"C kernel build (empty cache): {b['build_kernel_s']:.2f} s" if b["build_kernel_s"] else "C kernel: unavailable")
        print("\n| engine | dtype | seed | synapses | spikes | rate (Hz) | wall s / sim s | CPU s / sim s |")
        print("|---|---|---|---|---|---|---|---|")
        for r in b["neuroplastic"]:
            print(f"| neuroplastic {r['engine']} | {r['dtype']} | {r['seed']} | {r['synapses']} | {r['spikes']} | "
                  f"{r['rate']:.2f} | {r['wall']:.3f} | {r['cpu']:.3f} |")
        for r in b["brian2"]:
            if "error" in r:
                print(f"| Brian2 | failed: {r['error']} |")
            else:
                print(f"| Brian2 cython | float64 | {r['seed']} | {r['synapses']} | {r['spikes']} | {r['rate']:.2f} | "
                      f"{r['wall']:.3f} | {r['cpu']:.3f} |")
    if not args.no_scaling:
        s = scaling(args)
        res["scaling"] = s
        print("\n| neurons | activity | synapses | spikes | rate (Hz) | synaptic events | wall s | CPU s | "
              "CPU ns/event (total) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in s["rows"]:
            print(f"| {r['neurons']} | {r['level']} | {r['synapses']} | {r['spikes']} | {r['rate']:.2f} | {r['events']} | "
                  f"{r['wall']:.3f} | {r['cpu']:.3f} | {1e9 * r['cpu'] / max(r['events'], 1):.1f} |")
        for n, m in s["marginal_ns_per_event"].items():
            print(f"{n} neurons: marginal CPU cost (high - low) / (events_high - events_low) = {m:.2f} ns per event")
        print(f"fit CPU s = alpha * neuron_steps + beta * events: alpha = {s['ns_per_neuron_step']:.2f} ns per "
              f"neuron-step, beta = {s['ns_per_event']:.2f} ns per synaptic event")
    print(f"\nload average at start: {res['load_avg'][0]:.2f} (2-core machine shared with other jobs)")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
