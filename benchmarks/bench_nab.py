"""NAB score and throughput of :class:`neuroplastic.streaming.SpikingAnomalyDetector`.

Protocol: every stream of the corpus is scored in one causal pass by a fresh detector with the
default configuration (one configuration for the whole corpus, nothing per stream); NAB's scorer
(``neuroplastic.streaming.nab``, our implementation of NAB v1.x) searches one threshold for the
whole corpus per profile, as NAB's optimiser does. Throughput is measured per stream on one
core (``torch.set_num_threads(1)``, one BLAS thread), as CPU time of the process.

Usage::

    python benchmarks/bench_nab.py                                  # corpus from NEUROPLASTIC_DATA
    python benchmarks/bench_nab.py --corpus ../shared/data/nab --json /tmp/bench_nab.json
    python benchmarks/bench_nab.py --ablations                      # + one run per removed mechanism
    python benchmarks/bench_nab.py --oracles                        # + hindsight bounds (not causal)

Published scores on the same 45 streams (NAB's own results files, standard profile): ARTime 73.4,
Numenta HTM 67.2, CAD OSE 67.2 (all three read the file's min/max and length before starting).
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from neuroplastic.streaming import SpikingAnomalyDetector, nab, run_nab  # noqa: E402

PUBLISHED = {"ARTime": 73.4, "Numenta HTM": 67.2, "CAD OSE": 67.2}

#: Each ablation removes one mechanism from the default detector.
ABLATIONS = {
    "no edge pathway": dict(edge_margin=None),
    "one scale (2 rows/step), no schedule": dict(steps=(2,), rows_per_step=0.0),
    "one scale (5 rows/step), no schedule": dict(steps=(5,), rows_per_step=0.0),
    "no deadband": dict(deadband=0.0),
    "short refractory (4 steps)": dict(refractory=4),
    "no relative refractory at the output": dict(output_refractory=0),
}


def find_corpus(arg: str | None) -> Path:
    """The NAB corpus: ``--corpus``, else ``$NEUROPLASTIC_DATA/nab``, else ``../shared/data/nab``."""
    cands = [Path(arg)] if arg else []
    env = os.environ.get("NEUROPLASTIC_DATA")
    if env:
        cands += [Path(env) / "nab", Path(env)]
    cands.append(Path(__file__).resolve().parents[2] / "shared" / "data" / "nab")
    for c in cands:
        if (c / "data").is_dir():
            return c
    raise SystemExit(f"no NAB corpus found in {', '.join(map(str, cands))}: pass --corpus DIR")


def throughput(corpus: Path) -> dict[str, float]:
    """CPU-time points/s of each stream (fresh detector, one core)."""
    out = {}
    for name, s in nab.read_corpus(corpus, duplicates="keep").items():
        det = SpikingAnomalyDetector()
        t0 = time.process_time()
        det.score_many(s.values)
        out[name] = len(s) / max(time.process_time() - t0, 1e-9)
    return out


def causality_check(corpus: Path) -> bool:
    """Scores of a prefix equal the first scores of the whole stream (two streams)."""
    streams = nab.read_corpus(corpus, duplicates="keep")
    for name in list(streams)[:: max(1, len(streams) // 2)][:2]:
        v = streams[name].values
        k = len(v) // 2
        full = SpikingAnomalyDetector().score_many(v)
        if not np.array_equal(SpikingAnomalyDetector().score_many(v[:k]), full[:k]):
            return False
    return True


def oracles(corpus: Path) -> dict[str, float]:
    """Two hindsight (non-causal) bounds on this detector family, standard profile.

    * ``best scale per stream``: for each stream, the single-scale detector (``steps=(s,)``, no
      schedule) among the default's scales whose raw score is highest at the default detector's
      threshold; the corpus is then scored with a searched threshold.
    * ``no false positives``: the default detector's scores with every firing outside the labelled
      windows deleted (detections unchanged).
    """
    streams = nab.read_corpus(corpus, duplicates="keep")
    windows = nab.read_windows(corpus)
    names = sorted(n for n in streams if n in windows)

    def scores(**kw) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {n: (streams[n].timestamps, SpikingAnomalyDetector(**kw).score_many(streams[n].values)) for n in names}

    default = scores()
    thr = nab.score_corpus(default, windows).threshold
    single = {s: scores(steps=(s,), rows_per_step=0.0) for s in SpikingAnomalyDetector().config.steps}
    per = {s: nab.score_corpus(res, windows, threshold=thr).per_stream for s, res in single.items()}
    best = {n: single[max(single, key=lambda s: per[s][n])][n] for n in names}
    no_fp = {}
    for n, (ts, sc) in default.items():
        inside = nab.label_stream(ts, windows[n]).astype(bool)
        no_fp[n] = (ts, np.where(inside, sc, 0.0))
    return {"default": nab.score_corpus(default, windows).score,
            "best scale per stream (hindsight)": nab.score_corpus(best, windows).score,
            "no false positives (hindsight)": nab.score_corpus(no_fp, windows).score}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=None)
    ap.add_argument("--out", default=None, help="results folder (default: a temporary one)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--ablations", action="store_true")
    ap.add_argument("--oracles", action="store_true", help="hindsight bounds of the detector family (about 3 min)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    corpus = find_corpus(args.corpus)
    report: dict = {"machine": platform.processor() or platform.machine(), "torch": torch.__version__,
                    "published_standard": PUBLISHED}
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or tmp
        summary = run_nab(corpus, out, progress=False, echo=print)
        report["detector"] = summary
        if args.ablations:
            report["ablations"] = {}
            for label, change in ABLATIONS.items():
                cfg = {**SpikingAnomalyDetector().get_config(), **change}
                if "steps" in change:
                    cfg["steps"] = list(change["steps"])
                s = run_nab(corpus, Path(tmp) / "abl", config=cfg, progress=False, echo=None)
                scores = {p: round(r["score"], 2) for p, r in s["profiles"].items()}
                report["ablations"][label] = scores
                print(f"ablation {label:40s} {scores}")
    if args.oracles:
        report["oracles_standard"] = oracles(corpus)
        for label, v in report["oracles_standard"].items():
            print(f"oracle {label:40s} {v:.2f}")
    pps = throughput(corpus)
    vals = np.array(list(pps.values()))
    report["throughput_points_per_cpu_second"] = {
        "min": float(vals.min()), "median": float(np.median(vals)), "slowest_stream": min(pps, key=pps.get),
    }
    print(f"throughput per stream (one core, CPU time): min {vals.min():.0f}, median {np.median(vals):.0f} points/s")
    report["causality_check"] = causality_check(corpus)
    print(f"causality check (prefix scores unchanged): {report['causality_check']}")
    print("published (standard, same 45 streams): " + ", ".join(f"{k} {v}" for k, v in PUBLISHED.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
