"""One-step-ahead MAE of :class:`neuroplastic.streaming.SpikingForecaster` vs persistence baselines.

Protocol: each stream of NAB's ``realTraffic`` folder is forecast one step ahead, online and
causally (the forecast of point ``i + 1`` uses points ``<= i`` only), by a fresh forecaster with
the default configuration; MAE over every forecastable point (``i = 0 .. n-2``, the learning phase
included) against

* persistence: ``x[i]`` forecasts ``x[i + 1]``;
* seasonal persistence: the last value at or before ``t[i + 1] - 1 day``.

Usage::

    python benchmarks/bench_forecast.py                       # realTraffic
    python benchmarks/bench_forecast.py --all --json /tmp/bench_forecast.json   # + every NAB stream
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from neuroplastic.streaming import SpikingForecaster, nab, persistence_forecast, seasonal_forecast  # noqa: E402

from bench_nab import find_corpus  # noqa: E402


def evaluate(ts: np.ndarray, x: np.ndarray) -> dict[str, float]:
    """MAE of the three forecasters and the forecaster's CPU-time points/s on one stream."""
    t0 = time.process_time()
    pred = SpikingForecaster().forecast_many(x, ts)
    cpu = time.process_time() - t0
    y = x[1:]
    mae = lambda p: float(np.abs(p[:-1] - y).mean())  # noqa: E731
    return {
        "forecaster": mae(pred),
        "persistence": mae(persistence_forecast(x)),
        "seasonal_1d": mae(seasonal_forecast(x, ts)),
        "points_per_cpu_second": len(x) / max(cpu, 1e-9),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=None)
    ap.add_argument("--all", action="store_true", help="also summarise every stream of the corpus")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    streams = nab.read_corpus(find_corpus(args.corpus), duplicates="keep")
    rows = {n: evaluate(s.timestamps, s.values) for n, s in streams.items() if args.all or n.startswith("realTraffic/")}
    print(f"{'stream':45s} {'forecaster':>11s} {'persistence':>11s} {'seasonal':>10s} {'ratio':>6s}")
    for n, r in rows.items():
        if n.startswith("realTraffic/"):
            print(f"{n:45s} {r['forecaster']:11.4g} {r['persistence']:11.4g} {r['seasonal_1d']:10.4g} "
                  f"{r['forecaster'] / r['persistence']:6.3f}")
    for label, keep in (("realTraffic", lambda n: n.startswith("realTraffic/")), ("all", lambda n: True)):
        sel = {n: r for n, r in rows.items() if keep(n)}
        if not sel or (label == "all" and not args.all):
            continue
        flat = [n for n, r in sel.items() if r["persistence"] == 0]  # a constant stream: both exact
        ratios = np.array([r["forecaster"] / r["persistence"] for n, r in sel.items() if n not in flat])
        print(f"{label}: forecaster/persistence MAE ratio over {ratios.size} streams: mean {ratios.mean():.3f}, "
              f"median {np.median(ratios):.3f}, beats persistence on {int((ratios < 1).sum())}/{ratios.size}"
              + (f" ({len(flat)} constant stream(s) left out, forecaster MAE "
                 f"{max(sel[n]['forecaster'] for n in flat):.3g})" if flat else ""))
    pps = min(r["points_per_cpu_second"] for r in rows.values())
    print(f"slowest stream: {pps:.0f} points per CPU second")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
