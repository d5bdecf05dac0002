"""Memory of ``neuroplastic detect`` on long streams, and the rate of the README's score/learn loop.

Issue 17, item 8. Bars: the peak resident memory of ``detect`` on 1,000,000 rows is at most 1.3x
that on 100,000 rows (the file is streamed in blocks, the output written as it goes); the
README's loop ``score_one`` then ``learn_one`` runs at 5,000 points/s or more.

Protocol:

* memory: a ``timestamp,value`` CSV (5-minute steps, a daily sine, noise, a few spikes) of N rows
  is written to a temporary folder; then, for each N, a fresh Python process runs
  ``neuroplastic.cli.main(["detect", "--data", ..., "--out", ..., "--no-progress"])`` and reports
  its own peak resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``, Linux: KiB),
  which includes the interpreter, torch and numpy (about the same at every N);
* rate: one detector, one core, ``det.score_one({"cpu": v}); det.learn_one({"cpu": v})`` over
  the first ``--rate-points`` points of the same series; wall time (``time.perf_counter``) and
  CPU time of the process (``time.process_time``, less sensitive to a busy machine), also
  ``process_one`` for comparison.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_stream_memory.py                 # 100k and 1M rows
    OMP_NUM_THREADS=1 python benchmarks/bench_stream_memory.py --rows 10000 100000 --json out.json
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

CHILD = r"""
import resource, sys, time
from neuroplastic.cli import main
t0 = time.perf_counter()
try:
    main(["detect", "--data", sys.argv[1], "--out", sys.argv[2], "--no-progress"], standalone_mode=False)
finally:
    print("RESULT", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter() - t0, flush=True)
"""


def series(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    x = 50 + 10 * np.sin(2 * np.pi * i / 288) + rng.standard_normal(n)
    x[rng.integers(1000, n, size=max(1, n // 100_000))] += 40
    return x


def write_stream(path: Path, n: int) -> None:
    t0 = np.datetime64("2020-01-01T00:00:00")
    x = series(n)
    with open(path, "w") as f:
        f.write("timestamp,value\n")
        step = 100_000
        for a in range(0, n, step):
            b = min(n, a + step)
            ts = np.datetime_as_string(t0 + np.arange(a, b) * np.timedelta64(300, "s"), unit="s")
            f.writelines(f"{t.replace('T', ' ')},{v:.4f}\n" for t, v in zip(ts.tolist(), x[a:b].tolist()))


def peak_rss(data: Path, out: Path) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of ``neuroplastic detect`` in a fresh process."""
    res = subprocess.run([sys.executable, "-c", CHILD, str(data), str(out)], capture_output=True, text=True)
    line = next((ln for ln in res.stdout.splitlines() if ln.startswith("RESULT")), None)
    if res.returncode != 0 or line is None:
        raise RuntimeError(f"detect failed ({res.returncode}): {res.stderr[-2000:]}")
    _, kib, secs = line.split()
    return int(kib) / 1024.0, float(secs)


def rate(n_points: int) -> dict[str, float]:
    import torch

    from neuroplastic.streaming import SpikingAnomalyDetector

    torch.set_num_threads(1)
    x = series(max(n_points, 2000)).tolist()[:n_points]
    det = SpikingAnomalyDetector()
    t0, c0 = time.perf_counter(), time.process_time()
    for v in x:
        det.score_one({"cpu": v})
        det.learn_one({"cpu": v})
    loop, loop_cpu = time.perf_counter() - t0, time.process_time() - c0
    det2 = SpikingAnomalyDetector()
    t0, c0 = time.perf_counter(), time.process_time()
    for v in x:
        det2.process_one(v)
    proc, proc_cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"points": n_points, "score_one_learn_one_per_s": round(n_points / loop, 1),
            "process_one_per_s": round(n_points / proc, 1),
            "score_one_learn_one_per_cpu_s": round(n_points / loop_cpu, 1),
            "process_one_per_cpu_s": round(n_points / proc_cpu, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--rate-points", type=int, default=20_000)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    out: dict = {"python": platform.python_version(), "machine": platform.machine(), "detect": []}
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.rows:
            data = Path(tmp) / f"s{n}.csv"
            write_stream(data, n)
            mb, secs = peak_rss(data, Path(tmp) / f"o{n}.csv")
            rows_out = sum(1 for _ in open(Path(tmp) / f"o{n}.csv")) - 1
            if rows_out != n:
                raise RuntimeError(f"{rows_out} output rows for {n} input rows")
            out["detect"].append({"rows": n, "peak_rss_mb": round(mb, 1), "seconds": round(secs, 1),
                                  "file_mb": round(data.stat().st_size / 2**20, 1)})
            print(f"detect {n:>9} rows: peak RSS {mb:7.1f} MB, {secs:6.1f} s", flush=True)
            data.unlink()
    if len(out["detect"]) >= 2:
        ratio = out["detect"][-1]["peak_rss_mb"] / out["detect"][0]["peak_rss_mb"]
        out["rss_ratio_last_to_first"] = round(ratio, 3)
        print(f"peak RSS ratio {out['detect'][-1]['rows']} / {out['detect'][0]['rows']} rows: {ratio:.3f} (bar <= 1.3)")
    out["rate"] = rate(args.rate_points)
    print(f"score_one + learn_one: {out['rate']['score_one_learn_one_per_s']:.0f} points/s (bar >= 5000); "
          f"process_one: {out['rate']['process_one_per_s']:.0f} points/s (wall); per CPU second: "
          f"{out['rate']['score_one_learn_one_per_cpu_s']:.0f} and {out['rate']['process_one_per_cpu_s']:.0f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
