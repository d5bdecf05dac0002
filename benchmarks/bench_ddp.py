"""Data-parallel throughput: ``Model.fit`` on 1 process vs ``fit(strategy="ddp")`` on 2 (gloo, CPU).

Workload: scikit-learn's digits (1797 x 64, pixels / 16, bundled, no download), trained with the
registered ``snn`` classifier (constant-current encoder, 16 steps, LIF 256, LI readout; surrogate
gradients) and the ``mlp_wide`` baseline (256-128 ReLU), Adam, per-process batch ``--batch``.

Configurations, all on this machine's cores:

* ``1 proc x 1 thread``: plain ``fit`` (the reference for scaling);
* ``1 proc x 2 threads``: plain ``fit`` using both cores through intra-op threads (what a user
  gets without DDP on a 2-core machine);
* ``2 procs x 1 thread``: ``fit(strategy="ddp")``, each rank batch ``--batch``, global batch 2x.

Each configuration runs in fresh spawned processes (gloo on 127.0.0.1, a free port); one warm-up
epoch, then ``--epochs`` timed epochs; rank 0's wall time after a barrier. Throughput counts the
samples of the timed epochs over all ranks (``DistributedSampler`` pads the last 1797 mod 2
sample). Weak-scaling efficiency ``= throughput(2 procs) / (2 x throughput(1 proc x 1 thread))``.
CPU time per sample (``time.process_time`` of each rank, summed) is also reported: on a loaded
machine wall time mostly measures how often the two ranks get a core at the same moment (every
step waits for the gradient all-reduce), while CPU time measures the work DDP adds.
Rounds of the three configurations are interleaved (the 2-thread one last, followed by a short
pause) and the median is reported, because the machine is shared (load average printed).

Usage: ``python benchmarks/bench_ddp.py [--models snn mlp] [--epochs 2] [--rounds 3] [--batch 32]
[--results benchmarks/RESULTS.md]`` (about 2-4 minutes on the shared 2-core machine).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch.multiprocessing as mp

MODELS = {"snn": "snn", "mlp": "mlp_wide"}
CONFIGS = [("1 proc x 1 thread", 1, 1), ("2 procs x 1 thread", 2, 1), ("1 proc x 2 threads", 1, 2)]
COOL_DOWN = 5.0  # seconds after the 2-thread run: its spinning threads load the shared machine


def _worker(rank: int, world: int, port: int, threads: int, model: str, epochs: int, batch: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    import torch

    torch.set_num_threads(threads)
    from neuroplastic.datasets import load_digits
    from neuroplastic.distributed import barrier, init_distributed, teardown
    from neuroplastic.training import build_model

    x, y = load_digits()
    x = x / 16.0
    strategy = "ddp" if world > 1 else None
    if world > 1:
        init_distributed(timeout=120)
    m = build_model(MODELS[model], n_in=64, n_out=10, device="cpu", seed=0)
    m.compile("adam", "cross_entropy", lr=1e-3)
    m.fit(x, y, epochs=1, batch_size=batch, seed=0, verbose=0, strategy=strategy)  # warm-up
    barrier()
    t0, c0 = time.perf_counter(), time.process_time()
    m.fit(x, y, epochs=epochs, batch_size=batch, seed=1, verbose=0, strategy=strategy)
    cpu = time.process_time() - c0  # this process's CPU time, all its threads (gloo's included)
    barrier()
    secs = time.perf_counter() - t0
    per_rank = -(-len(x) // world)  # DistributedSampler pads to a multiple of world
    Path(f"{out}.{rank}").write_text(json.dumps({"seconds": secs, "cpu": cpu, "samples": epochs * per_rank}))
    teardown()


FAILURES: list[str] = []


def _run(world: int, threads: int, model: str, epochs: int, batch: int) -> dict:
    """One configuration in fresh processes; a run whose processes fail is recorded and retried once."""
    from neuroplastic.distributed import find_free_port

    for attempt in (1, 2):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "result.json")
            try:
                mp.start_processes(_worker, args=(world, find_free_port(), threads, model, epochs, batch, out),
                                   nprocs=world, join=True, start_method="spawn")
            except mp.ProcessExitedException as e:
                done = all(Path(f"{out}.{r}").exists() for r in range(world))
                FAILURES.append(f"{model}, {world} proc x {threads} thread: {e} "
                                f"({'after' if done else 'before'} writing its result; attempt {attempt})")
                print(f"FAILED: {FAILURES[-1]}", flush=True)
                if not done:
                    continue
            ranks = [json.loads(Path(f"{out}.{r}").read_text()) for r in range(world)]
            return {"seconds": ranks[0]["seconds"], "samples": sum(r["samples"] for r in ranks),
                    "cpu": sum(r["cpu"] for r in ranks)}
    raise RuntimeError(f"{model} with {world} processes x {threads} threads failed twice: {FAILURES[-2:]}")


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import torch

    return f"{os.cpu_count()} cores, {cpu}; Python {platform.python_version()}, torch {torch.__version__}"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["snn", "mlp"], choices=sorted(MODELS))
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32, help="per-process batch size")
    ap.add_argument("--results", type=Path, default=None, help="append a section to this markdown file")
    args = ap.parse_args(argv)

    load0 = os.getloadavg()
    rows: dict[str, dict[str, list[float]]] = {m: {c[0]: [] for c in CONFIGS} for m in args.models}
    cpu_us: dict[str, dict[str, list[float]]] = {m: {c[0]: [] for c in CONFIGS} for m in args.models}
    for r in range(args.rounds):
        for model in args.models:
            for name, world, threads in CONFIGS:
                res = _run(world, threads, model, args.epochs, args.batch)
                if threads > 1:
                    time.sleep(COOL_DOWN)
                rows[model][name].append(res["samples"] / res["seconds"])
                cpu_us[model][name].append(1e6 * res["cpu"] / res["samples"])
                print(f"round {r + 1} {model:>4} {name:<20} {rows[model][name][-1]:8.1f} samples/s "
                      f"{cpu_us[model][name][-1]:7.1f} CPU us/sample", flush=True)
    load1 = os.getloadavg()

    report = {"models": {}, "load": [load0[0], load1[0]], "machine": _machine(), "failures": FAILURES,
              "date": datetime.date.today().isoformat(), "args": vars(args) | {"results": str(args.results)}}
    lines = ["| model | configuration | samples/s (median) | rounds | vs 1 proc x 1 thread | CPU us/sample (median) |",
             "|---|---|---|---|---|---|"]
    for model in args.models:
        med = {name: statistics.median(v) for name, v in rows[model].items()}
        base = med[CONFIGS[0][0]]
        cpu = {name: statistics.median(v) for name, v in cpu_us[model].items()}
        report["models"][model] = {"median": med, "all": rows[model], "cpu_us_per_sample": cpu,
                                   "efficiency": med[CONFIGS[1][0]] / (2 * base),
                                   "cpu_efficiency": cpu[CONFIGS[0][0]] / cpu[CONFIGS[1][0]]}
        for name, _, _ in CONFIGS:
            vals = ", ".join(f"{v:.0f}" for v in rows[model][name])
            lines.append(f"| {model} | {name} | {med[name]:.0f} | {vals} | {med[name] / base:.2f}x | {cpu[name]:.1f} |")
    table = "\n".join(lines)
    print(table)
    for model, r in report["models"].items():
        print(f"{model}: 2-process weak-scaling efficiency {r['efficiency'] * 100:.0f}% (wall), "
              f"{r['cpu_efficiency'] * 100:.0f}% (CPU per sample)")
    if args.results is not None:
        cmd = "python benchmarks/bench_ddp.py " + " ".join(argv if argv is not None else sys.argv[1:])
        eff = "; ".join(f"{m} {r['efficiency'] * 100:.0f}% (CPU per sample: {r['cpu_efficiency'] * 100:.0f}%)"
                        for m, r in report["models"].items())
        section = (
            f"\n## Data-parallel training: `fit(strategy=\"ddp\")`, 1 vs 2 processes (gloo, CPU)\n\n"
            f"Command: `{cmd}` ({report['date']}). Machine: {report['machine']}. Load average "
            f"{load0[0]:.1f} before and {load1[0]:.1f} after the run (a shared machine: other engineers' jobs "
            f"compete for the same 2 cores, so absolute figures are low and noisy). Workload: digits "
            f"(1797 x 64), per-process batch {args.batch}, Adam, {args.epochs} timed epochs after one warm-up "
            f"epoch, median of {args.rounds} interleaved rounds.\n\n{table}\n\n"
            f"2-process weak-scaling efficiency (throughput / (2 x 1 proc x 1 thread); in brackets the CPU "
            f"time per sample of 1 process over that of 2, summed over ranks, which the load does not "
            f"distort much): {eff}.\n"
        )
        if FAILURES:
            section += "\nProcess failures during the run (retried): " + "; ".join(FAILURES) + ".\n"
        with open(args.results, "a", encoding="utf-8") as f:
            f.write(section)
    return report


if __name__ == "__main__":
    main()
