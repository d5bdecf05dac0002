"""Issue 17 item 9: killed-and-resumed training is bit-identical to uninterrupted training on CPU."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch

import neuroplastic as npl
from neuroplastic.io import CheckpointError, load_config
from neuroplastic.models import MLPClassifier, SNNClassifier
from neuroplastic.training import Model, ModelCheckpoint, build_model

SRC = Path(__file__).resolve().parents[2] / "src"
HERE = Path(__file__).resolve().parent

# dropout (torch RNG), shuffling (the fit generator) and Adam's moments all matter here
_SETUP = textwrap.dedent("""
    import numpy as np
    from neuroplastic.training import build_model
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 4)).astype("float32")
    y = ((x[:, 0] + x[:, 1] > 0).astype("int64") + (x[:, 2] > 1)).astype("int64")
    def make():
        return build_model("snn", n_in=4, n_out=3, seed=0, device="cpu", hidden=[16], num_steps=5, dropout=0.3)
""")
_NS: dict = {}
exec(_SETUP, _NS)  # the same data and model here as in the child processes
x, y, make = _NS["x"], _NS["y"], _NS["make"]


def _straight(epochs: int = 4, **kw) -> Model:  # type: ignore[no-untyped-def]
    m = make()
    m.fit(x, y, epochs=epochs, batch_size=16, verbose=0, seed=3, **kw)
    return m


def _assert_identical(a: Model, b: Model) -> None:
    sa, sb = a.module.state_dict(), b.module.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), f"{k} differs"
    xs = torch.from_numpy(x)
    assert np.array_equal(a.predict_proba(xs), b.predict_proba(xs))


def test_resume_in_process_is_bit_identical(tmp_path: Path) -> None:
    a = _straight()
    b = make()
    b.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=3,
          callbacks=[ModelCheckpoint(tmp_path / "ck", monitor="loss")])
    torch.manual_seed(12345)  # whatever happens in between must not matter
    np.random.seed(7)
    c = Model.load(tmp_path / "ck")
    hist = c.fit(x, y, epochs=4, verbose=0, resume=tmp_path / "ck")
    assert hist.epoch == [2, 3]
    assert c._fit_settings["batch_size"] == 16  # the saved batch size, not the default 32
    _assert_identical(a, c)
    # the control: weights alone (no optimizer / random state) do not continue the same run
    d = Model.load(tmp_path / "ck")
    d.optimizer.state.clear()
    d.fit(x, y, epochs=4, batch_size=16, verbose=0, initial_epoch=2, seed=3)
    assert not torch.equal(d.module.state_dict()["1.weight"], a.module.state_dict()["1.weight"])


def test_model_save_include_optimizer(tmp_path: Path) -> None:
    a = _straight()
    b = _straight(epochs=2)
    b.save(tmp_path / "ck", include_optimizer=True)
    doc = load_config(tmp_path / "ck")
    assert doc["training"]["epoch"] == 1 and doc["training"]["optimizer"]["class"] == "Adam"
    c = make()  # a freshly built model, not Model.load
    c.fit(x, y, epochs=4, verbose=0, resume=tmp_path / "ck")
    _assert_identical(a, c)


def test_resume_needs_the_training_state(tmp_path: Path) -> None:
    b = _straight(epochs=2)
    b.save(tmp_path / "plain")
    with pytest.raises(CheckpointError, match="include_optimizer=True"):
        make().fit(x, y, epochs=4, resume=tmp_path / "plain")
    b.save(tmp_path / "full", include_optimizer=True)
    with pytest.raises(CheckpointError, match="continues at epoch 2.*initial_epoch=1"):
        make().fit(x, y, epochs=4, initial_epoch=1, resume=tmp_path / "full")
    other = build_model("snn", n_in=4, n_out=3, seed=0, device="cpu", hidden=[9], num_steps=5)
    with pytest.raises(CheckpointError, match="do not fit this model"):
        other.fit(x, y, epochs=4, resume=tmp_path / "full")


def test_loaded_model_keeps_fit_settings(tmp_path: Path) -> None:
    m = make()
    m.fit(x, y, epochs=1, batch_size=64, verbose=0, seed=0)
    m.save(tmp_path / "ck")
    n = Model.load(tmp_path / "ck")
    assert m.fit_defaults and n.fit_defaults == m.fit_defaults
    assert n._fit_settings["batch_size"] == 64


_KILLED = _SETUP + textwrap.dedent("""
    import os, signal, sys
    from neuroplastic.training import LambdaCallback, ModelCheckpoint
    def die(epoch, logs):
        if epoch == 1:
            os.kill(os.getpid(), signal.SIGKILL)
    make().fit(x, y, epochs=4, batch_size=16, verbose=0, seed=3,
               callbacks=[ModelCheckpoint(sys.argv[1], monitor="loss"), LambdaCallback(on_epoch_end=die)])
""")
_RESUMED = _SETUP + textwrap.dedent("""
    import sys, numpy as np, safetensors.torch, torch
    from neuroplastic.training import Model
    m = Model.load(sys.argv[1])
    m.fit(x, y, epochs=4, verbose=0, resume=sys.argv[1])
    safetensors.torch.save_file({k: v.contiguous() for k, v in m.module.state_dict().items()}, sys.argv[2])
    np.save(sys.argv[3], m.predict_proba(torch.from_numpy(x)))
""")


def test_sigkilled_training_resumed_in_a_new_process(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    ck = tmp_path / "ck"
    run = subprocess.run([sys.executable, "-c", _KILLED, str(ck)], env=env, capture_output=True, timeout=300)
    assert run.returncode == -signal.SIGKILL, run.stderr.decode()[-2000:]
    assert load_config(ck)["extra"]["epoch"] == 1
    w, p = tmp_path / "w.safetensors", tmp_path / "p.npy"
    run = subprocess.run([sys.executable, "-c", _RESUMED, str(ck), str(w), str(p)], env=env, capture_output=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    a = _straight()
    got = safetensors.torch.load_file(str(w))
    for k, v in a.module.state_dict().items():
        assert torch.equal(v, got[k]), f"{k} differs after the resume"
    assert np.array_equal(np.load(p), a.predict_proba(torch.from_numpy(x)))


@pytest.mark.parametrize("cls", [SNNClassifier, MLPClassifier])
def test_estimator_partial_fit_after_load_matches(tmp_path: Path, cls: type) -> None:
    from sklearn.datasets import load_iris

    X, yy = load_iris(return_X_y=True)
    kw = dict(hidden_layer_sizes=(16,), num_steps=6) if cls is SNNClassifier else dict(architecture="wide",
                                                                                        hidden_layer_sizes=(16,))
    a = cls(max_epochs=2, random_state=0, device="cpu", **kw).fit(X, yy)
    a.save(tmp_path / "clf")
    b = npl.load(tmp_path / "clf")
    assert b.model_.fit_defaults == a.model_.fit_defaults
    c = npl.load(tmp_path / "clf")
    c.model_.optimizer.state.clear()  # control: what 0.1.0 did (Adam restarted)
    for est in (a, b, c):
        est.partial_fit(X, yy)
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))
