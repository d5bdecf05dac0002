"""One-command peer benchmark suite: each peer in its own virtual environment, all timed in one run.

    python benchmarks/peers.py setup [--root DIR] [--only snntorch,norse,...]
    python benchmarks/peers.py run [--root DIR] [--workloads A,B,DC] [--rounds N] [--json F]

``setup`` creates one venv per peer under ``--root`` (default ``~/.cache/neuroplastic-peers``) and is
idempotent: a venv whose check prints the pinned version is kept. Torch peers get ``torch==2.13.0`` (a
constraints file pins it, so pip never pulls another, CUDA, build); Brian2 and NEST need Python 3.13
(``--python313``, else ``python3.13`` on PATH, else pyenv's ``~/.pyenv/versions/3.13*``). BindsNET 0.3.4
pins torch>=2.14 and imports torchvision, gymnasium, cv2, pandas... at package import: it is installed
with ``--no-deps`` next to the few libraries its simulation code uses, and its worker registers empty
stand-ins for the rest (bench_plasticity's recipe).

``run`` starts one long-lived worker per variant (``benchmarks/peers/w_*.py``, in the peer's venv; the
neuroplastic worker in this Python), which builds and warms up its model, then measures once per
``run`` request. Round ``r`` asks every variant of a workload once, in an order rotated by ``r``, so
machine load drifts over all variants alike; only one worker computes at a time. The tables give
medians over rounds and ratios ``time / neuroplastic time`` (above 1: neuroplastic is faster) and, for
workload A, ``time / plain-loop time``. A peer that is missing, fails to start or fails a measurement
is reported with its reason; the others go on.

Workloads: ``A`` (Dense 784->1024 + LIF, T=100, B=32, 2 threads; bench_lif), ``B`` (CUBA 4,000 LIF,
1 s at dt 0.1 ms, one thread, NEST one and two; bench_cuba) and ``DC`` (Diehl & Cook, 400 neurons, ms per
training image, one thread; bench_plasticity).
"""
from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import platform
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKERS = HERE / "peers"
DEFAULT_ROOT = Path(os.environ.get("NEUROPLASTIC_PEERS", "~/.cache/neuroplastic-peers")).expanduser()
TORCH_PIN = "torch==2.13.0"


# --------------------------------------------------------------------------- peers and their venvs
@dataclass(frozen=True)
class Peer:
    """One peer library: how to install it in its own venv and how to check the installed version."""

    name: str
    version: str
    python: str  # "current" (this interpreter's version, for the torch wheel) or "3.13"
    packages: tuple[str, ...]
    module: str  # imported by the check
    dist: str  # distribution name: its installed version (importlib.metadata) must equal ``version``
    no_deps: tuple[str, ...] = ()  # installed afterwards with --no-deps
    note: str = ""


PEERS: dict[str, Peer] = {p.name: p for p in (
    Peer("snntorch", "1.0.0", "current", (TORCH_PIN, "snntorch==1.0.0"), "snntorch", "snntorch"),
    Peer("norse", "1.1.0", "current", (TORCH_PIN, "norse==1.1.0"), "norse", "norse"),
    Peer("spikingjelly", "2.0.0", "current", (TORCH_PIN, "spikingjelly==2.0.0"), "spikingjelly", "spikingjelly"),
    Peer("brian2", "2.11.0", "3.13", ("brian2==2.11.0",), "brian2", "brian2",
         note="Cython runtime and C++ standalone need a C++ compiler (g++)"),
    Peer("nest", "3.10.0", "3.13", ("nest-simulator==3.10.0",), "nest", "nest-simulator"),
    Peer("bindsnet", "0.3.4", "current", (TORCH_PIN, "numpy", "scipy", "matplotlib", "tqdm", "scikit-learn"),
         "bindsnet", "bindsnet", no_deps=("bindsnet==0.3.4",),
         note="--no-deps: it pins torch>=2.14 and pulls torchvision/gymnasium/opencv; the worker stubs those"),
)}


def venv_python(root: Path, peer: str) -> Path:
    return root / peer / "bin" / "python"


def find_python313(explicit: str | None) -> str:
    """Path of a Python 3.13 interpreter; raises with the fix when there is none."""
    candidates = [explicit] if explicit else []
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.13*/bin/python")), reverse=True)
    candidates += [shutil.which("python3.13") or ""]  # may be a pyenv shim that refuses to run: checked below
    for c in candidates:
        if not c or not Path(c).exists():
            continue
        probe = subprocess.run([c, "-c", "import sys; print(sys.version_info[:2] == (3, 13))"],
                               capture_output=True, text=True)
        if probe.stdout.strip() == "True":
            return c
        if explicit and c == explicit:
            raise FileNotFoundError(f"--python313 {explicit} is not a working Python 3.13: {probe.stderr[-300:]}")
    raise FileNotFoundError("no Python 3.13 found (Brian2 2.11 and NEST 3.10 need it): install one with "
                            "`pyenv install 3.13.0` or pass --python313 /path/to/python3.13")


def installed_version(py: Path, module: str, dist: str) -> tuple[str | None, str]:
    """(installed version of ``dist`` or None, error text), after checking that ``module`` imports in ``py``."""
    if not py.exists():
        return None, f"no venv at {py.parent.parent}"
    code = ("import sys, json\n"
            + ("import bench_plasticity as bp\nbp._install_stubs()\n" if module == "bindsnet" else "")
            + f"import {module}\nfrom importlib.metadata import version\nprint(json.dumps(version({dist!r})))")
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    proc = subprocess.run([str(py), "-c", code], capture_output=True, text=True, timeout=300, env=env)
    if proc.returncode != 0:
        return None, proc.stderr.strip()[-600:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    return (json.loads(lines[-1]) if lines else None), ""


def dir_size_mb(path: Path) -> float:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            fp = os.path.join(dirpath, f)
            if not os.path.islink(fp):
                total += os.path.getsize(fp)
    return total / 2**20


def setup_peer(peer: Peer, root: Path, python313: str | None, force: bool = False) -> dict:
    """Create (or keep) the venv of ``peer``; returns a status row (never raises)."""
    py = venv_python(root, peer.name)
    marker = root / peer.name / "neuroplastic-peer.json"
    if not force:
        have, _ = installed_version(py, peer.module, peer.dist)
        if have == peer.version:
            row = json.loads(marker.read_text()) if marker.exists() else {}
            return {**row, "peer": peer.name, "version": peer.version, "status": "kept"}
    t0 = time.perf_counter()
    log = root / f"{peer.name}-install.log"
    try:
        base = sys.executable if peer.python == "current" else find_python313(python313)
        if (root / peer.name).exists():
            shutil.rmtree(root / peer.name)
        root.mkdir(parents=True, exist_ok=True)
        constraints = root / "constraints.txt"
        constraints.write_text(f"{TORCH_PIN}\n")
        steps = [[base, "-m", "venv", str(root / peer.name)],
                 [str(py), "-m", "pip", "install", "-c", str(constraints), *peer.packages]]
        if peer.no_deps:
            steps.append([str(py), "-m", "pip", "install", "--no-deps", *peer.no_deps])
        with open(log, "w") as f:
            for cmd in steps:
                f.write("$ " + " ".join(cmd) + "\n")
                f.flush()
                rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT).returncode
                if rc != 0:
                    raise RuntimeError(f"`{' '.join(cmd[:4])} ...` exited {rc}; see {log}: "
                                       + _tail(log, 400))
        have, err = installed_version(py, peer.module, peer.dist)
        if have != peer.version:
            raise RuntimeError(f"installed, but `import {peer.module}` gives version {have!r}: {err}")
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        return {"peer": peer.name, "version": peer.version, "status": "failed", "error": str(exc),
                "install_s": round(time.perf_counter() - t0, 1)}
    row = {"peer": peer.name, "version": peer.version, "status": "installed",
           "install_s": round(time.perf_counter() - t0, 1), "size_mb": round(dir_size_mb(root / peer.name)),
           "python": subprocess.run([str(py), "-c", "import sys; print(sys.version.split()[0])"],
                                    capture_output=True, text=True).stdout.strip()}
    marker.write_text(json.dumps(row))
    return row


def _tail(path: Path, n: int) -> str:
    try:
        return path.read_text(errors="replace")[-n:].strip()
    except OSError:
        return ""


def cmd_setup(args: argparse.Namespace) -> None:
    names = _names(args.only, PEERS)
    rows = []
    for name in names:
        print(f"setting up {name} ...", flush=True)
        rows.append(setup_peer(PEERS[name], args.root, args.python313, force=args.force))
        print(json.dumps(rows[-1]), flush=True)
    print("\n| peer | version | Python | status | install s | venv MB |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['peer']} | {r['version']} | {r.get('python', '')} | {r['status']}"
              f"{': ' + r['error'][:200] if 'error' in r else ''} | {r.get('install_s', '')} | {r.get('size_mb', '')} |")


def _names(only: str | None, table: dict) -> list[str]:
    names = [n for n in (only or "").split(",") if n] or list(table)
    bad = [n for n in names if n not in table]
    if bad:
        raise SystemExit(f"unknown name(s) {bad}: choose from {sorted(table)}")
    return names


# --------------------------------------------------------------------------- variants and workers
@dataclass(frozen=True)
class Variant:
    """One timed thing: a worker script with its arguments, in a peer's venv (``peer=None``: this Python)."""

    workload: str
    label: str
    peer: str | None
    script: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


def variants_for(workload: str, root: Path, dc_images: str | None, dc_per_round: int) -> list[Variant]:
    if workload == "A":
        return [Variant("A", "neuroplastic", None, "w_neuroplastic.py", ("A", "neuroplastic")),
                Variant("A", "neuroplastic-event", None, "w_neuroplastic.py", ("A", "neuroplastic-event")),
                Variant("A", "plain-loop", None, "w_neuroplastic.py", ("A", "plain-loop")),
                Variant("A", "plain-loop-indexed", None, "w_neuroplastic.py", ("A", "plain-loop-indexed")),
                Variant("A", "matmul-floor", None, "w_neuroplastic.py", ("A", "matmul-floor")),
                Variant("A", "spikingjelly", "spikingjelly", "w_spikingjelly.py", ("multistep",)),
                Variant("A", "snntorch", "snntorch", "w_snntorch.py", ("snntorch",)),
                Variant("A", "norse", "norse", "w_norse.py", ("lifbox",))]
    if workload == "B":
        one = (("OMP_NUM_THREADS", "1"),)
        return [Variant("B", "neuroplastic (C event engine, float32)", None, "w_neuroplastic.py", ("B", "float32")),
                Variant("B", "brian2 cython", "brian2", "w_brian2.py", ("cython", "1"), one),
                Variant("B", "brian2 cpp_standalone", "brian2", "w_brian2.py",
                        ("standalone", "1", str(root / "brian2-standalone-build")), one),
                Variant("B", "nest (1 thread)", "nest", "w_nest.py", ("nest", "1", "1"), one),
                # the setting; OpenMP barriers every 0.1 ms step: collapses when the 2 cores are shared
                Variant("B", "nest (2 threads)", "nest", "w_nest.py", ("nest", "2", "1"))]
    if workload == "DC":
        if dc_images is None:
            raise ValueError("workload DC needs the image file: internal error")
        a = (dc_images, "400", str(dc_per_round))
        return [Variant("DC", "neuroplastic (fused C)", None, "w_neuroplastic.py", ("DC", *a)),
                Variant("DC", "bindsnet", "bindsnet", "w_bindsnet.py", a)]
    raise ValueError(f"unknown workload {workload!r}: choose from A, B, DC")


class Worker:
    """A running worker process; ``request`` sends one line and waits (with a timeout) for one JSON line."""

    def __init__(self, v: Variant, python: str, log_dir: Path, cwd: Path):
        self.v = v
        self.log = log_dir / (v.label.replace(" ", "_").replace("/", "_").replace("(", "").replace(")", "") + ".log")
        env = {**os.environ, **dict(v.env), "PYTHONUNBUFFERED": "1"}
        env.pop("PYTHONPATH", None)
        self._log_f = open(self.log, "w")
        self.proc = subprocess.Popen([python, str(WORKERS / v.script), *v.args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log_f, text=True, cwd=cwd, env=env)

    def read(self, timeout: float) -> dict:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError(f"no answer within {timeout:.0f} s")
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=10)
            raise RuntimeError(f"worker exited with code {self.proc.returncode}: {_tail(self.log, 600)}")
        msg = json.loads(line)
        if "error" in msg:
            raise RuntimeError(msg["error"])
        return msg

    def request(self, timeout: float) -> dict:
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        return self.read(timeout)

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            self.proc.kill()
            self.proc.wait()
        self._log_f.close()


def run_workload(variants: list[Variant], root: Path, rounds: int, log_dir: Path, cwd: Path,
                 setup_timeout: float, step_timeout: float) -> dict:
    """Start every variant's worker, then ``rounds`` interleaved rounds; returns meta, samples and failures."""
    workers: dict[str, Worker] = {}
    meta: dict[str, dict] = {}
    failed: dict[str, str] = {}
    for v in variants:
        python = sys.executable if v.peer is None else str(venv_python(root, v.peer))
        if not Path(python).exists():
            failed[v.label] = (f"not installed: run `python benchmarks/peers.py setup --only {v.peer}`"
                               + (f" ({_setup_error(root, v.peer)})" if _setup_error(root, v.peer) else ""))
            continue
        print(f"  starting {v.label} ...", flush=True)
        w = Worker(v, python, log_dir, cwd)
        try:
            meta[v.label] = w.read(setup_timeout)
            workers[v.label] = w
        except (RuntimeError, TimeoutError, ValueError) as exc:
            failed[v.label] = f"setup: {exc} (log {w.log})"
            w.proc.kill()
            w.close()
    samples: dict[str, list[dict]] = {name: [] for name in workers}
    names = list(workers)
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)] if names else []
        for name in order:
            if name not in workers:
                continue
            try:
                samples[name].append(workers[name].request(step_timeout))
            except (RuntimeError, TimeoutError, ValueError) as exc:
                failed[name] = f"round {r}: {exc} (log {workers[name].log})"
                workers[name].proc.kill()
                workers.pop(name).close()
        print(f"  round {r + 1}/{rounds} done", flush=True)
    for w in workers.values():
        w.close()
    return {"meta": meta, "samples": samples, "failed": failed}


def _setup_error(root: Path, peer: str | None) -> str:
    log = root / f"{peer}-install.log"
    return f"last install log {log}" if log.exists() else ""


def medians(samples: list[dict]) -> dict[str, float]:
    keys = {k for s in samples for k, v in s.items() if isinstance(v, (int, float))}
    return {k: statistics.median(s[k] for s in samples if k in s) for k in sorted(keys)}


# --------------------------------------------------------------------------- tables
def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else ""


def table_a(res: dict) -> list[str]:
    med = {n: medians(s) for n, s in res["samples"].items() if s}
    ref, plain = med.get("neuroplastic", {}), med.get("plain-loop", {})
    lines = ["| variant | train ms | x neuroplastic | x plain loop | train CPU ms | infer ms | x neuroplastic "
             "| x plain loop | firing rate |", "|---|---|---|---|---|---|---|---|---|"]
    for n, m in med.items():
        rate = res["meta"][n].get("rate")
        label = n if n in ("plain-loop", "plain-loop-indexed", "matmul-floor") else f"{n} {res['meta'][n].get('version', '')}"
        lines.append(f"| {label} | {m['train_ms']:.1f} | {_ratio(m['train_ms'], ref.get('train_ms'))} "
                     f"| {_ratio(m['train_ms'], plain.get('train_ms'))} | {m['train_cpu_ms']:.1f} | {m['infer_ms']:.1f} "
                     f"| {_ratio(m['infer_ms'], ref.get('infer_ms'))} | {_ratio(m['infer_ms'], plain.get('infer_ms'))} "
                     f"| {'' if rate is None else f'{rate:.3f}'} |")
    return lines


def table_b(res: dict) -> list[str]:
    med = {n: medians(s) for n, s in res["samples"].items() if s}
    ref = next((m for n, m in med.items() if n.startswith("neuroplastic")), {})
    lines = ["| engine | wall s per sim s | x neuroplastic | CPU s | x neuroplastic | Brian2's own sim time s "
             "| rate Hz | synapses |", "|---|---|---|---|---|---|---|---|"]
    for n, m in med.items():
        meta = res["meta"][n]
        sim = f"{m['sim_s']:.3f}" if "sim_s" in m else ""
        lines.append(f"| {n} {meta.get('version', '')} | {m['wall_s']:.3f} | {_ratio(m['wall_s'], ref.get('wall_s'))} "
                     f"| {m['cpu_s']:.3f} | {_ratio(m['cpu_s'], ref.get('cpu_s'))} | {sim} | {m['rate_hz']:.2f} "
                     f"| {meta.get('synapses', '')} |")
    return lines


def table_dc(res: dict) -> list[str]:
    med = {n: medians(s) for n, s in res["samples"].items() if s}
    ref = next((m for n, m in med.items() if n.startswith("neuroplastic")), {})
    lines = ["| Diehl & Cook, 400 neurons | ms per training image (wall) | x neuroplastic | CPU ms | x neuroplastic |",
             "|---|---|---|---|---|"]
    for n, m in med.items():
        lines.append(f"| {n} {res['meta'][n].get('version', '')} | {m['wall_ms']:.1f} "
                     f"| {_ratio(m['wall_ms'], ref.get('wall_ms'))} | {m['cpu_ms']:.1f} "
                     f"| {_ratio(m['cpu_ms'], ref.get('cpu_ms'))} |")
    return lines


TABLES = {"A": table_a, "B": table_b, "DC": table_dc}
TITLES = {"A": "Workload A: Bernoulli(0.2) [T=100, B=32, 784] -> Dense 784->1024 -> LIF -> rate MSE, float32, "
               "2 threads",
          "B": "Workload B: CUBA (Vogels & Abbott 2005), 4,000 LIF, 1 s at dt = 0.1 ms, one thread (NEST: 1 and 2)",
          "DC": "Diehl & Cook: one training image (350 steps of 1 ms, STDP on), 400 excitatory neurons, one thread"}


def machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        cpu = next(ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown CPU"
    return f"{cpu}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}"


def write_dc_images(path: Path, n: int) -> None:
    """The first ``n`` MNIST training images (float32 in [0, 1], [n, 784]) for both DC workers."""
    import numpy as np

    from neuroplastic.datasets import mnist_split

    np.save(path, np.asarray(mnist_split().x_train[:n], dtype=np.float32))


def cmd_run(args: argparse.Namespace) -> None:
    workloads = _names(args.workloads, TABLES)
    started = datetime.datetime.now(datetime.timezone.utc)
    report: dict = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "machine": machine(),
                    "date_utc": started.strftime("%Y-%m-%d %H:%M"), "rounds": args.rounds,
                    "load_avg_start": os.getloadavg(), "workloads": {}}
    print(f"{report['date_utc']} UTC; {report['machine']}; load average {report['load_avg_start'][0]:.2f}",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="np_peers_") as tmp:
        tmp_path = Path(tmp)
        log_dir = Path(args.log_dir) if args.log_dir else tmp_path
        log_dir.mkdir(parents=True, exist_ok=True)
        images = None
        if "DC" in workloads:
            images = tmp_path / "dc_images.npy"
            write_dc_images(images, 2 + args.dc_per_round * (args.rounds + 1))
        for wl in workloads:
            print(f"\n== workload {wl}", flush=True)
            variants = variants_for(wl, args.root, str(images) if images else None, args.dc_per_round)
            res = run_workload(variants, args.root, args.rounds, log_dir, tmp_path, args.setup_timeout,
                               args.step_timeout)
            report["workloads"][wl] = res
            _print_workload(wl, res)
    report["load_avg_end"] = os.getloadavg()
    report["minutes"] = (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds() / 60
    print(f"\nrun took {report['minutes']:.1f} min; load average at the end {report['load_avg_end'][0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str))


def _print_workload(wl: str, res: dict) -> None:
    print(f"\n{TITLES[wl]}; medians over rounds; 'x neuroplastic' = time / neuroplastic's time\n")
    print("\n".join(TABLES[wl](res)))
    for name, why in res["failed"].items():
        print(f"- {name}: MISSING/FAILED: {why}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup", help="create one venv per peer (idempotent)")
    r = sub.add_parser("run", help="run the workloads, interleaving rounds across peers")
    for p in (s, r):
        p.add_argument("--root", type=Path, default=DEFAULT_ROOT, help=f"venv folder (default {DEFAULT_ROOT})")
    s.add_argument("--only", default=None, help=f"comma-separated peers (default all: {','.join(PEERS)})")
    s.add_argument("--python313", default=None, help="Python 3.13 for Brian2 and NEST")
    s.add_argument("--force", action="store_true", help="reinstall even when the right version is there")
    r.add_argument("--workloads", default="A,B,DC", help="comma-separated: A, B, DC")
    r.add_argument("--rounds", type=int, default=7)
    r.add_argument("--dc-per-round", type=int, default=3, help="training images per DC measurement")
    r.add_argument("--setup-timeout", type=float, default=900.0, help="seconds a worker may take to start")
    r.add_argument("--step-timeout", type=float, default=600.0, help="seconds one measurement may take")
    r.add_argument("--log-dir", default=None, help="keep the workers' logs here (default: a temp folder)")
    r.add_argument("--json", default=None, help="also write all samples and metadata here")
    args = ap.parse_args()
    (cmd_setup if args.cmd == "setup" else cmd_run)(args)


if __name__ == "__main__":
    main()
