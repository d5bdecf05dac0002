"""Workload A (CPU): Bernoulli(0.2) spikes [T=100, B=32, 784] -> Dense 784->1024 -> LIF -> mean-rate MSE.

Compares, in one run with interleaved rounds and medians (float32, ``torch.set_num_threads(2)``):

* ``neuroplastic``            -- ``LIF()`` (fastest registered backend: ``cpu_fused``)
* ``neuroplastic-event``      -- the same with ``Dense(784, 1024, spike_input=True)`` (the same weights):
  the event-driven product adds only the weight rows of input spikes, forward and ``grad_W``
* ``neuroplastic-reference``  -- ``LIF(backend="reference")`` (loop over ``lif_step``)
* ``plain-loop``              -- a hand-written PyTorch step loop of the same math, with autograd,
  stepping over ``cur.unbind(0)`` (the reference of the ratios)
* ``plain-loop-indexed``      -- the same loop indexing ``cur[t]`` (O(T^2) gradient traffic in backward)
* ``plain-loop-compiled``     -- ``torch.compile`` of that loop (skipped with ``--no-compile`` or if it fails)
* ``matmul-floor``            -- only the Dense matmul forward + backward
* peers given with ``--peers`` (``spikingjelly``: SpikingJelly's multi-step ``LIFNode``, soft reset,
  same decay), skipped when not importable.

Each variant is timed for a training step (forward + backward; wall time, and CPU time of the
process over all threads) and for inference (forward under ``torch.no_grad``). Peak memory of the training step is measured in a fresh subprocess per variant
as the growth of the peak resident set size over one step (Linux: ``VmHWM`` from /proc/self/status,
reset just before the step via /proc/self/clear_refs; elsewhere ``ru_maxrss``), after imports,
data, model and one tiny warm-up call (so the C kernel is loaded), with glibc's mmap threshold
pinned at 128 kB; median of 3 subprocesses. tracemalloc does not see torch's allocations. The
compiled loop's memory is only measured with ``--compiled-memory`` (it compiles again in its
subprocess, which takes minutes on a small machine).

Usage: ``python benchmarks/bench_lif.py [--rounds 9] [--peers spikingjelly] [--no-compile] [--json F]``
(with torch.compile: several minutes, mostly compiling; ``--no-compile``: about a minute).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from typing import Callable

import torch

T, B, IN, N = 100, 32, 784, 1024
DT, TAU, V_TH = 1e-3, 10e-3, 1.0
BETA = math.exp(-DT / TAU)
TARGET_RATE = 0.1


class _Spike(torch.autograd.Function):
    """Heaviside with the fast-sigmoid surrogate (alpha = 10), as in neuroplastic's default."""

    @staticmethod
    def forward(ctx, x):  # type: ignore[override]
        ctx.save_for_backward(x)
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return g / (1.0 + 10.0 * x.abs()) ** 2


def plain_lif(cur: torch.Tensor) -> torch.Tensor:
    """The hand-written step loop: v <- beta v + (1 - beta) I; S = H(v - v_th); v <- v - S v_th.

    Steps over ``cur.unbind(0)``: indexing ``cur[t]`` instead (:func:`plain_lif_indexed`) makes
    each step's backward zero-fill and add a full ``[T, B, N]`` gradient, O(T^2) memory traffic
    that made the loop 7-9x slower in training and flattered every ratio against it.
    """
    v = torch.zeros_like(cur[0])
    out = []
    for c in cur.unbind(0):
        v = BETA * v + (1.0 - BETA) * c
        s = _Spike.apply(v - V_TH)
        v = v - s * V_TH
        out.append(s)
    return torch.stack(out)


def plain_lif_indexed(cur: torch.Tensor) -> torch.Tensor:
    """:func:`plain_lif` written with ``cur[t]`` (the slow form many hand-written loops use)."""
    v = torch.zeros_like(cur[0])
    out = []
    for t in range(cur.shape[0]):
        v = BETA * v + (1.0 - BETA) * cur[t]
        s = _Spike.apply(v - V_TH)
        v = v - s * V_TH
        out.append(s)
    return torch.stack(out)


def loss_fn(spikes: torch.Tensor) -> torch.Tensor:
    return (spikes.mean(0) - TARGET_RATE).pow(2).mean()


def _peer_spikingjelly() -> Callable | None:
    try:
        from spikingjelly.activation_based import functional, neuron, surrogate
    except Exception:  # noqa: BLE001 - not installed or broken: skip the peer
        return None
    # decay_input=True, soft reset: h = v + (x - v) / tau  ==  beta v + (1 - beta) x with tau = 1 / (1 - beta)
    node = neuron.LIFNode(tau=1.0 / (1.0 - BETA), v_threshold=V_TH, v_reset=None, decay_input=True,
                          surrogate_function=surrogate.Sigmoid(), step_mode="m")

    def run(cur: torch.Tensor) -> torch.Tensor:
        functional.reset_net(node)
        return node(cur)

    return run


PEERS: dict[str, Callable[[], Callable | None]] = {"spikingjelly": _peer_spikingjelly}


def make_variants(peers: list[str], compile_loop: bool) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """name -> function mapping the Dense output current [T, B, N] to spikes (None: matmul only)."""
    import neuroplastic.kernels  # noqa: F401 - registers the fused backends (until the package does)
    from neuroplastic.neurons import LIF

    fast, ref = LIF(tau_mem=TAU, v_th=V_TH, dt=DT), LIF(tau_mem=TAU, v_th=V_TH, dt=DT, backend="reference")
    variants: dict[str, Callable] = {
        "neuroplastic": lambda c: fast(c)[0],
        "neuroplastic-event": lambda c: fast(c)[0],
        "neuroplastic-reference": lambda c: ref(c)[0],
        "plain-loop": plain_lif,
        "plain-loop-indexed": plain_lif_indexed,
    }
    if compile_loop:
        variants["plain-loop-compiled"] = torch.compile(plain_lif)
    for name in peers:
        if name not in PEERS:
            print(f"unknown peer {name!r}: choose from {sorted(PEERS)}", file=sys.stderr)
            continue
        fn = PEERS[name]()
        if fn is None:
            print(f"peer {name} not importable: skipped", file=sys.stderr)
        else:
            variants[name] = fn
    variants["matmul-floor"] = None  # type: ignore[assignment]
    return variants


def make_data(seed: int = 0):
    torch.manual_seed(seed)
    x = (torch.rand(T, B, IN) < 0.2).float()
    dense = torch.nn.Linear(IN, N)
    with torch.no_grad():
        dense.weight.mul_(25.0)  # mean firing rate about 0.1
    return x, dense


#: variants whose Dense layer is neuroplastic's event-driven one (``spike_input=True``)
EVENT_VARIANTS = ("neuroplastic-event",)


def dense_for(name: str, dense: torch.nn.Linear) -> torch.nn.Module:
    """The Dense layer variant ``name`` runs: ``dense`` itself, or a ``Dense(spike_input=True)`` sharing
    its parameters (same weights, same gradients)."""
    if name not in EVENT_VARIANTS:
        return dense
    from neuroplastic.synapses import Dense

    ev = Dense(dense.in_features, dense.out_features, spike_input=True)
    ev.weight, ev.bias = dense.weight, dense.bias
    return ev


def train_step(fn, x, dense) -> None:
    dense.zero_grad(set_to_none=True)
    cur = dense(x)
    if fn is None:
        cur.sum().backward()
    else:
        loss_fn(fn(cur)).backward()


def infer_step(fn, x, dense) -> None:
    with torch.no_grad():
        cur = dense(x)
        if fn is not None:
            loss_fn(fn(cur))


def time_all(variants, x, dense, rounds: int) -> dict[str, dict[str, float]]:
    denses = {n: dense_for(n, dense) for n in variants}
    for name in list(variants):  # warm-up (and compile) each variant
        t0 = time.perf_counter()
        try:
            train_step(variants[name], x, denses[name])
            infer_step(variants[name], x, denses[name])
        except Exception as exc:  # noqa: BLE001 - e.g. torch.compile without a working toolchain
            print(f"{name} failed here, dropped: {type(exc).__name__}: {str(exc)[:300]}", file=sys.stderr)
            del variants[name]
            continue
        if name == "plain-loop-compiled":
            secs = time.perf_counter() - t0
            print(f"torch.compile warm-up (train + infer graphs) took {secs:.0f} s", file=sys.stderr)
        train_step(variants[name], x, denses[name])
    names = list(variants)
    times = {n: {"train": [], "infer": [], "train_cpu": []} for n in names}
    rng = random.Random(0)
    for _ in range(rounds):
        rng.shuffle(names)  # interleaved rounds, order varied so drift hits every variant alike
        for n in names:
            for kind, step in (("train", train_step), ("infer", infer_step)):
                t0, c0 = time.perf_counter(), time.process_time()
                step(variants[n], x, denses[n])
                times[n][kind].append(time.perf_counter() - t0)
                if kind == "train":  # CPU time of all threads: less sensitive to other load than wall time
                    times[n]["train_cpu"].append(time.process_time() - c0)
    return {n: {k: statistics.median(v) * 1e3 for k, v in d.items()} for n, d in times.items()}


def _mem_child(name: str, peers: list[str]) -> None:
    torch.set_num_threads(2)
    variants = make_variants(peers, compile_loop=name == "plain-loop-compiled")
    fn = variants[name]
    x, dense = make_data()
    dense = dense_for(name, dense)
    if name in EVENT_VARIANTS:  # load the event-driven kernel too
        dense(x[:1, :1])
    if fn is not None:  # tiny warm-up: loads the C kernel / compiles, without a large allocation
        small = torch.randn(3, 2, N, requires_grad=True)
        loss_fn(fn(small)).backward()
        if name == "plain-loop-compiled":
            train_step(fn, x, dense)  # compile for the real shape first (compiler memory is not the step's)
    before = _peak_rss_kb(reset=True)
    train_step(fn, x, dense)
    after = _peak_rss_kb(reset=False)
    print(json.dumps({"peak_delta_mb": (after - before) / 1024.0, "peak_rss_mb": after / 1024.0}))


def _peak_rss_kb(reset: bool) -> float:
    """Peak resident set size in kB. On Linux: ``VmHWM`` of /proc/self/status, reset to the current
    RSS first when ``reset`` (writing 5 to /proc/self/clear_refs). ``ru_maxrss`` is only a fallback:
    Linux carries the parent's peak into a child across fork + exec, hiding small steps."""
    try:
        if reset:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        with open("/proc/self/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        return float(fields["VmHWM"].split()[0])
    except (OSError, KeyError, ValueError):
        return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def measure_memory(names: list[str], peers: list[str], repeats: int = 3) -> dict[str, float | None]:
    """Median over ``repeats`` fresh subprocesses of the peak-RSS growth of one training step.

    glibc's malloc is pinned to mmap every block >= 128 kB (``MALLOC_MMAP_THRESHOLD_``) so freed
    tensors leave the RSS at once: otherwise its adaptive threshold makes the peak depend on the
    allocation history (runs of the same variant differed by 2x)."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    out: dict[str, float | None] = {}
    for name in names:
        vals = []
        for _ in range(repeats):
            cmd = [sys.executable, __file__, "--mem-child", name, "--peers", ",".join(peers)]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
            try:
                vals.append(json.loads(proc.stdout.strip().splitlines()[-1])["peak_delta_mb"])
            except (IndexError, ValueError, KeyError):
                print(f"memory run of {name} failed: {proc.stderr[-500:]}", file=sys.stderr)
        out[name] = statistics.median(vals) if vals else None
    return out


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--peers", default="", help="comma-separated peers to add (spikingjelly)")
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile of the plain loop")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--compiled-memory", action="store_true",
                    help="also measure the compiled loop's memory (compiles again in the subprocess: minutes)")
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    ap.add_argument("--mem-child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    peers = [p for p in args.peers.split(",") if p]
    if args.mem_child:
        return _mem_child(args.mem_child, peers)

    torch.set_num_threads(2)
    load_before = os.getloadavg()
    variants = make_variants(peers, compile_loop=not args.no_compile)
    x, dense = make_data()
    with torch.no_grad():
        rate = float(plain_lif(dense(x)).mean())
    times = time_all(variants, x, dense, args.rounds)
    mem_names = [n for n in variants if args.compiled_memory or n != "plain-loop-compiled"]
    mem = {} if args.no_memory else measure_memory(mem_names, peers)
    load_after = os.getloadavg()

    base = times["plain-loop"]
    print(f"\nworkload A (CPU): T={T} B={B} {IN}->{N} float32, threads=2, rounds={args.rounds}, "
          f"firing rate {rate:.3f}")
    print(f"machine: {cpu_model()}; torch {torch.__version__}; load avg before {load_before[0]:.2f}, "
          f"after {load_after[0]:.2f}")
    print(f"{'variant':<24}{'train ms':>10}{'x plain':>9}{'train CPU ms':>14}{'infer ms':>10}{'x plain':>9}"
          f"{'peak MB':>9}")
    for n, t in times.items():
        m = mem.get(n)
        print(f"{n:<24}{t['train']:>10.1f}{t['train'] / base['train']:>9.2f}{t['train_cpu']:>14.1f}"
              f"{t['infer']:>10.1f}{t['infer'] / base['infer']:>9.2f}{'' if m is None else f'{m:9.0f}':>9}")
    ratio = times["neuroplastic"]["train"] / base["train"]
    print(f"bar train <= 0.60x plain loop: {'PASS' if ratio <= 0.6 else 'FAIL'} ({ratio:.2f}x)")
    if "neuroplastic-event" in times:
        r = times["neuroplastic-event"]["train"] / base["train"]
        print(f"  with Dense(spike_input=True): {r:.2f}x plain loop")
    if "spikingjelly" in times:
        for n in ("neuroplastic", "neuroplastic-event"):
            if n in times:
                r = times[n]["train"] / times["spikingjelly"]["train"]
                print(f"bar train <= 0.55x SpikingJelly ({n}): {'PASS' if r <= 0.55 else 'FAIL'} ({r:.2f}x)")
    if mem.get("neuroplastic") is not None and mem.get("plain-loop") is not None:
        ok = mem["neuroplastic"] <= mem["plain-loop"]
        print(f"bar peak memory <= plain loop: {'PASS' if ok else 'FAIL'} "
              f"({mem['neuroplastic']:.0f} MB vs {mem['plain-loop']:.0f} MB)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"times_ms": times, "peak_delta_mb": mem, "rate": rate, "load": [load_before, load_after],
                       "machine": cpu_model(), "torch": torch.__version__}, f, indent=1)


if __name__ == "__main__":
    main()
