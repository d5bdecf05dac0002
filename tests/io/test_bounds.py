"""Issue 17 item 7: a tampered config cannot make load allocate gigabytes before any check.

Each case edits the config of a small checkpoint so that an honest build would need tens of
GB; the load runs in a child process whose address space is capped at 3 GB, so a regression
fails (MemoryError or a crash) instead of swamping the machine, and must end in the
CheckpointError naming the fix.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import neuroplastic as npl
from neuroplastic.io import CheckpointError
from neuroplastic.models import SNNClassifier
from neuroplastic.training import build_model

SRC = Path(__file__).resolve().parents[2] / "src"

_LOAD_CAPPED = textwrap.dedent("""
    import resource, sys, time
    import neuroplastic as npl
    resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))
    t = time.perf_counter()
    try:
        npl.load(sys.argv[1])
    except npl.io.CheckpointError as e:
        print("REFUSED", round(time.perf_counter() - t, 3), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        print(e)
    else:
        print("LOADED")
""")


def _edit(d: Path, fn) -> None:  # type: ignore[no-untyped-def]
    f = d / "config.json"
    doc = json.loads(f.read_text())
    fn(doc)
    f.write_text(json.dumps(doc))


def _load_capped(d: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-c", _LOAD_CAPPED, str(d)], env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def _snn_model(tmp_path: Path) -> Path:
    return build_model("snn", n_in=4, n_out=3, seed=0, device="cpu", hidden=[8], num_steps=4).save(tmp_path / "m")


def test_huge_hidden_is_refused_before_allocating(tmp_path: Path) -> None:
    d = _snn_model(tmp_path)
    _edit(d, lambda c: c["config"]["architecture"]["config"].__setitem__("hidden", [100000, 100000]))
    out = _load_capped(d)
    assert out.startswith("REFUSED"), out
    assert "10,000,000,000 elements" in out and "nothing was allocated" in out
    maxrss_kb = int(out.split()[2])
    assert maxrss_kb < 2 * 2**20, f"the refused load used {maxrss_kb / 2**10:.0f} MB"


def test_num_steps_is_bounded(tmp_path: Path) -> None:
    d = _snn_model(tmp_path)
    _edit(d, lambda c: c["config"]["architecture"]["config"].__setitem__("num_steps", 1e8))
    with pytest.raises(CheckpointError, match=r"num_steps = 100000000.0 .*over the bound of 100,000.*max_steps="):
        npl.load(d)


def test_a_long_but_honest_model_loads_with_a_raised_bound(tmp_path: Path) -> None:
    d = build_model("snn", n_in=4, n_out=3, seed=0, device="cpu", hidden=[4], num_steps=200_000).save(tmp_path / "m")
    with pytest.raises(CheckpointError, match="max_steps=200000"):
        npl.load(d)
    assert npl.load(d, max_steps=200_000).architecture["config"]["num_steps"] == 200_000


def test_moderate_edit_fails_on_shapes(tmp_path: Path) -> None:
    d = _snn_model(tmp_path)
    _edit(d, lambda c: c["config"]["architecture"]["config"].__setitem__("hidden", [64]))
    with pytest.raises(CheckpointError, match=r"shape mismatch.*checkpoint \[8, 4\] vs built \[64, 4\]"):
        npl.load(d)


def test_estimator_with_tampered_layer_sizes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 4)), np.arange(40) % 2
    clf = SNNClassifier(hidden_layer_sizes=(8,), num_steps=4, max_epochs=1, random_state=0, device="cpu").fit(X, y)
    d = clf.save(tmp_path / "clf")

    def edit(c: dict) -> None:
        c["config"]["fitted"]["model_"]["config"]["architecture"]["config"]["hidden"] = [60000, 60000]
    _edit(d, edit)
    out = _load_capped(d)
    assert out.startswith("REFUSED") and "3,600,000,000 elements" in out, out


def test_hebbian_network_with_tampered_width(tmp_path: Path) -> None:
    from neuroplastic.models import HebbianNetwork

    rng = np.random.default_rng(0)
    X, y = rng.random(size=(30, 16)), np.arange(30) % 3
    net = HebbianNetwork(n_hidden=6, architecture="dense", hebb_epochs=1, readout_epochs=1, random_state=0).fit(X, y)
    d = net.save(tmp_path / "hebb")
    doc = json.loads((d / "config.json").read_text())
    assert doc["config"]["fitted"]["n_hidden_"] == {"kind": "json", "value": [6]}

    def edit(c: dict) -> None:
        c["config"]["fitted"]["n_hidden_"]["value"] = [3_000_000_000]
    _edit(d, edit)
    out = _load_capped(d)
    assert out.startswith("REFUSED") and "nothing was allocated" in out, out
