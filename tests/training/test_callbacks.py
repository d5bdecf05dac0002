"""Callbacks: hook order, early stopping on hand-crafted sequences, checkpoints, CSV, TensorBoard, W&B."""
from __future__ import annotations

import csv
import math
import sys

import numpy as np
import pytest
import torch
from torch import nn

import neuroplastic.io as npio
from neuroplastic.training import Model, build_model
from neuroplastic.training.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TensorBoard,
    TerminateOnNaN,
    WandbCallback,
    cosine,
)


def data(n: int = 48):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def model(lr: float = 0.05) -> Model:
    torch.manual_seed(0)
    return Model(nn.Linear(2, 2), device="cpu").compile("sgd", "ce", ["accuracy"], lr=lr)


class Inject(Callback):
    """Overwrites an epoch log value with a hand-crafted sequence (runs before the callbacks under test)."""

    def __init__(self, key: str, values: list[float]) -> None:
        super().__init__()
        self.key, self.values = key, values

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs[self.key] = self.values[epoch]


@pytest.mark.parametrize("values,patience,min_delta,mode,stop_at", [
    ([5, 4, 3, 3.5, 3.2, 3.1, 2.0, 1.0], 3, 0.0, "min", 5),   # best 3 at epoch 2; 3 epochs without -> stop at 5
    ([5, 4, 3, 3.5, 3.2, 2.9, 2.8, 2.7], 2, 0.0, "min", 4),    # patience 2: epochs 3 and 4 do not improve
    ([5, 4, 3, 3.5, 2.9, 2.8, 2.85, 2.7], 2, 0.0, "min", None),  # never 2 epochs in a row without improving
    ([5, 4, 3, 2.95, 2.92, 2.9, 1.0, 1.0], 3, 0.1, "min", 5),  # improvements under min_delta do not count
    ([0.5, 0.6, 0.6, 0.7, 0.8, 0.8, 0.75, 0.9], 2, 0.0, "max", 6),
    ([0.5, 0.6, 0.6, 0.7, 0.8, 0.8, 0.75, 0.9], 2, 0.0, "auto", 6),  # 'val_accuracy' -> max
])
def test_early_stopping_stops_at_the_right_epoch(values, patience, min_delta, mode, stop_at) -> None:
    x, y = data()
    key = "val_accuracy" if mode in ("max", "auto") else "val_loss"
    es = EarlyStopping(key, min_delta=min_delta, patience=patience, mode=mode)
    hist = model().fit(x, y, epochs=len(values), verbose=0, validation_data=(x, y),
                       callbacks=[Inject(key, values), es])
    if stop_at is None:
        assert es.stopped_epoch == 0 and len(hist.epoch) == len(values)
    else:
        assert es.stopped_epoch == stop_at and hist.epoch == list(range(stop_at + 1))
    assert hist.history[key] == values[:len(hist.epoch)]


def test_early_stopping_restores_best_weights() -> None:
    x, y = data()
    snapshots = []
    m = model()
    es = EarlyStopping("val_loss", patience=2, restore_best_weights=True)
    keep = LambdaCallback(on_epoch_end=lambda e, logs: snapshots.append(m.get_weights()))
    m.fit(x, y, epochs=10, verbose=0, validation_data=(x, y),
          callbacks=[Inject("val_loss", [3, 2, 1, 4, 5, 6, 7, 8, 9, 10]), keep, es])
    assert es.best_epoch == 2 and es.stopped_epoch == 4
    for k, v in m.get_weights().items():
        torch.testing.assert_close(v, snapshots[2][k])
        assert not torch.equal(v, snapshots[4][k])


def test_missing_monitor_warns() -> None:
    x, y = data()
    with pytest.warns(RuntimeWarning, match="val_loss"):
        model().fit(x, y, epochs=1, verbose=0, callbacks=[EarlyStopping("val_loss")])


def test_hook_order_and_stop_training_flag() -> None:
    x, y = data(20)
    calls = []
    names = ["on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_train_batch_end", "on_test_begin",
             "on_test_batch_begin", "on_test_batch_end", "on_test_end", "on_epoch_end", "on_train_end"]
    spy = LambdaCallback(**{n: (lambda *a, n=n: calls.append(n)) for n in names})
    m = model()
    m.fit(x, y, epochs=2, batch_size=10, verbose=0, validation_data=(x, y), callbacks=[spy])
    per_epoch = ["on_epoch_begin"] + ["on_train_batch_begin", "on_train_batch_end"] * 2 + [
        "on_test_begin"] + ["on_test_batch_begin", "on_test_batch_end"] * 2 + ["on_test_end", "on_epoch_end"]
    assert calls == ["on_train_begin"] + per_epoch * 2 + ["on_train_end"]
    # stop_training set in a batch hook ends the epoch after that batch and ends training
    batches = []

    def stop(batch, logs):
        batches.append(batch)
        m.stop_training = True

    hist = m.fit(x, y, epochs=5, batch_size=5, verbose=0, callbacks=[LambdaCallback(on_train_batch_end=stop)])
    assert batches == [0] and hist.epoch == [0]
    with pytest.raises(TypeError, match="unknown hook"):
        LambdaCallback(on_epoch_finish=print)


def test_model_checkpoint_writes_loadable_checkpoints(tmp_path) -> None:
    x, y = data()
    m = build_model("mlp_wide", n_in=2, n_out=2, hidden=[8], seed=0, device="cpu")
    every = ModelCheckpoint(tmp_path / "ep{epoch:02d}", monitor="loss")
    best = ModelCheckpoint(tmp_path / "best", monitor="val_loss", save_best_only=True)
    m.fit(x, y, epochs=6, verbose=0, validation_data=(x, y),
          callbacks=[Inject("val_loss", [3, 2, 2.5, 1, 1.5, 4]), every, best])
    assert [p.name for p in every.saved] == [f"ep{e:02d}" for e in range(1, 7)]
    assert len(best.saved) == 3  # epochs 0, 1, 3 improved
    assert npio.load_config(tmp_path / "best")["extra"]["epoch"] == 3
    last = Model.load(tmp_path / "ep06")
    np.testing.assert_array_equal(last.predict_proba(x), m.predict_proba(x))
    # a hand-built model of library/torch layers describes itself, so it checkpoints and loads
    plain = model()
    plain.fit(x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(tmp_path / "plain", monitor="loss")])
    np.testing.assert_array_equal(Model.load(tmp_path / "plain").predict_proba(x), plain.predict_proba(x))

    # a user-defined module class cannot be rebuilt from a config: it needs save_weights_only
    class Mine(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)

        def forward(self, t):
            return self.lin(t)

    custom = Model(Mine(), device="cpu").compile("sgd", "ce", lr=0.05)
    with pytest.raises(ValueError, match="save_weights_only"):
        custom.fit(x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(tmp_path / "c")])
    w = ModelCheckpoint(tmp_path / "w", save_weights_only=True, monitor="loss")
    plain = model()
    plain.fit(x, y, epochs=1, verbose=0, callbacks=[w])
    import safetensors.torch

    state = safetensors.torch.load_file(str(tmp_path / "w.safetensors"))
    torch.testing.assert_close(state["weight"], plain.module.weight.detach())


def test_csv_logger_rows(tmp_path) -> None:
    x, y = data()
    path = tmp_path / "log" / "train.csv"
    rows_seen_mid_training = []
    peek = LambdaCallback(on_epoch_end=lambda e, logs: rows_seen_mid_training.append(path.read_text().count("\n")))
    hist = model().fit(x, y, epochs=3, verbose=0, validation_data=(x, y), callbacks=[CSVLogger(path), peek])
    rows = list(csv.DictReader(open(path)))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    np.testing.assert_allclose([float(r["val_loss"]) for r in rows], hist.history["val_loss"])
    assert rows_seen_mid_training == [2, 3, 4]  # flushed as each epoch ends
    model().fit(x, y, epochs=2, verbose=0, validation_data=(x, y), callbacks=[CSVLogger(path, append=True)])
    assert [int(r["epoch"]) for r in csv.DictReader(open(path))] == [0, 1, 2, 0, 1]


def test_terminate_on_nan_and_lr_schedules() -> None:
    x, y = data()
    m = model()
    seen = []

    def poison(batch, logs):
        seen.append(batch)
        if batch == 1:
            with torch.no_grad():
                m.module.weight.fill_(float("nan"))

    hist = m.fit(x, y, epochs=5, batch_size=8, verbose=0,
                 callbacks=[LambdaCallback(on_train_batch_end=poison), TerminateOnNaN()])
    assert seen == [0, 1, 2] and hist.epoch == [0] and math.isnan(hist.history["loss"][0])
    m = model()
    hist = m.fit(x, y, epochs=4, verbose=0, callbacks=[LearningRateScheduler(cosine(4, 0.1))])
    np.testing.assert_allclose(hist.history["lr"], [0.1 * 0.5 * (1 + math.cos(math.pi * e / 4)) for e in range(4)])
    m = model()
    hist = m.fit(x, y, epochs=5, verbose=0, callbacks=[Inject("val_loss", [1, 1, 1, 1, 1]),
                                                       ReduceLROnPlateau("val_loss", factor=0.5, patience=2)])
    assert hist.history["lr"] == [0.05, 0.05, 0.05, 0.025, 0.025]  # the rate used in each epoch (as Keras logs it)


def test_tensorboard_event_files(tmp_path) -> None:
    pytest.importorskip("tensorboard")
    x, y = data()
    model().fit(x, y, epochs=2, verbose=0, validation_data=(x, y), callbacks=[TensorBoard(tmp_path)])
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for split in ("train", "validation"):
        files = list((tmp_path / split).glob("events.out.tfevents.*"))
        assert files, split
        acc = EventAccumulator(str(tmp_path / split))
        acc.Reload()
        assert {"epoch_loss", "epoch_accuracy"} <= set(acc.Tags()["scalars"])
        assert [e.step for e in acc.Scalars("epoch_loss")] == [0, 1]


def test_optional_dependency_messages(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(ImportError, match=r"pip install neuroplastic\[tensorboard\]"):
        TensorBoard("logs")
    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(ImportError, match=r"pip install neuroplastic\[wandb\]"):
        WandbCallback()


def test_wandb_offline_run(tmp_path, monkeypatch) -> None:
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    x, y = data()
    cb = WandbCallback(project="neuroplastic-test", dir=tmp_path, config={"lr": 0.05})
    model().fit(x, y, epochs=2, verbose=0, callbacks=[cb])
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    assert list(runs[0].glob("*.wandb"))


def test_model_checkpoint_keeps_the_training_state(tmp_path) -> None:
    import os
    import stat

    x, y = data()
    m = build_model("mlp_wide", n_in=2, n_out=2, hidden=[8], seed=0, device="cpu")
    full = ModelCheckpoint(tmp_path / "full", monitor="loss")
    lean = ModelCheckpoint(tmp_path / "lean", monitor="loss", include_optimizer=False)
    m.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[full, lean])
    doc = npio.load_config(tmp_path / "full")
    assert doc["training"]["epoch"] == 1 and doc["training"]["fit_settings"]["batch_size"] == 8
    assert doc["training"]["optimizer"]["class"] == "Adam" and "rng" in doc["training"]
    assert any(k.startswith("training/optimizer/") for k in doc["tensors"])
    lean_doc = npio.load_config(tmp_path / "lean")
    assert "optimizer" not in lean_doc["training"] and not any(k.startswith("training/") for k in lean_doc["tensors"])
    # weights-only files follow the umask like any other file (mkstemp/safetensors alone give 0600)
    old = os.umask(0o022)
    try:
        m.fit(x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(tmp_path / "w", save_weights_only=True,
                                                                    monitor="loss")])
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "w.safetensors").stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "lean", "w.safetensors"]
