"""Model: compile/fit/evaluate/predict, data handling, errors, reproducibility, save/load."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import neuroplastic.io as npio
from neuroplastic.io import CheckpointError
from neuroplastic.training import Model, build_model
from neuroplastic.training.metrics import get_metric


def separable(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    y = (x[:, 0] - 0.5 * x[:, 1] > 0).astype(np.int64)
    x += np.where(y[:, None] == 1, 0.3, -0.3).astype(np.float32) * np.array([1, -0.5], np.float32)  # margin
    return x, y


def linear_model(**compile_kw) -> Model:
    torch.manual_seed(0)
    m = Model(nn.Linear(2, 2), device="cpu")
    m.compile("adam", "cross_entropy", metrics=["accuracy"], lr=0.05, **compile_kw)
    return m


def test_learns_linearly_separable_problem_to_100_percent() -> None:
    x, y = separable()
    m = linear_model()
    hist = m.fit(x, y, epochs=30, batch_size=16, verbose=0, seed=0)
    assert hist.history["accuracy"][-1] == 1.0
    assert hist.history["loss"][-1] < hist.history["loss"][0] / 3
    assert hist.epoch == list(range(30))
    assert set(hist.history) == {"loss", "accuracy"}
    res = m.evaluate(x, y)
    assert res["accuracy"] == 1.0 and set(res) == {"loss", "accuracy"}
    assert (m.predict(x) == y).all()
    p = m.predict_proba(x)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-6)
    assert (p.argmax(1) == y).all()
    assert m.decision_function(x).shape == (200, 2)


def test_evaluate_is_exact_weighted_mean_over_uneven_batches() -> None:
    x, y = separable(37)
    m = linear_model()
    logits = m.module(torch.from_numpy(x)).detach()
    full = nn.functional.cross_entropy(logits, torch.from_numpy(y)).item()
    assert m.evaluate(x, y, batch_size=10)["loss"] == pytest.approx(full, rel=1e-5)


def test_validation_split_takes_the_last_fraction_and_logs_val_keys() -> None:
    x, y = separable(100)
    seen = []

    class Spy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(2, 2)

        def forward(self, inp):
            if not self.training:
                seen.append(inp.clone())
            return self.lin(inp)

    m = Model(Spy(), device="cpu").compile("sgd", "ce", ["accuracy"])
    hist = m.fit(x, y, epochs=1, batch_size=100, validation_split=0.2, verbose=0)
    assert {"val_loss", "val_accuracy"} <= set(hist.history)
    torch.testing.assert_close(seen[-1], torch.from_numpy(x[80:]))


def test_dataloader_input_matches_array_input() -> None:
    x, y = separable(64)
    a, b = linear_model(), linear_model()
    ha = a.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=16)
    hb = b.fit(loader, epochs=3, validation_data=loader, verbose=0)
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-6)
    assert b.evaluate(loader)["accuracy"] == pytest.approx(a.evaluate(x, y)["accuracy"])
    np.testing.assert_array_equal(b.predict(DataLoader(TensorDataset(torch.from_numpy(x)), batch_size=7)), a.predict(x))


def test_same_seed_same_numbers() -> None:
    x, y = separable(120)
    runs = []
    for _ in range(2):
        m = build_model("snn", n_in=2, n_out=2, hidden=[16], num_steps=4, dropout=0.2, seed=3, device="cpu")
        runs.append((m.fit(x, y, epochs=2, batch_size=32, verbose=0, seed=7).history["loss"], m.predict_proba(x)))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    m = build_model("snn", n_in=2, n_out=2, hidden=[16], num_steps=4, dropout=0.2, seed=3, device="cpu")
    assert m.fit(x, y, epochs=2, batch_size=32, verbose=0, seed=8).history["loss"] != runs[0][0]


def test_time_first_spiking_model_trains() -> None:
    x, y = separable(128)
    m = build_model("snn", n_in=2, n_out=2, hidden=[32], num_steps=8, seed=0, device="cpu")
    assert m.predict_outputs(x).shape == (8, 128, 2)
    m.compile("adam", "cross_entropy", ["accuracy"], lr=1e-2)
    hist = m.fit(x, y, epochs=15, batch_size=32, verbose=0, seed=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert hist.history["accuracy"][-1] > 0.9


def test_classes_map_labels_both_ways() -> None:
    x, y = separable(80)
    labels = np.array(["neg", "pos"])[y]
    m = Model(nn.Linear(2, 2), device="cpu", classes=["neg", "pos"]).compile("adam", "ce", lr=0.05)
    m.fit(x, labels, epochs=20, verbose=0, seed=0)
    assert (m.predict(x) == labels).mean() > 0.95
    with pytest.raises(ValueError, match="not in model.classes"):
        m.fit(x, np.where(y == 1, "pos", "other"), verbose=0)


def test_regression_with_mse() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 3)).astype(np.float32)
    t = (x @ np.array([1.0, -2.0, 0.5], np.float32))[:, None]
    m = Model(nn.Linear(3, 1), device="cpu").compile("adam", "mse", ["mae"], lr=0.05)
    hist = m.fit(x, t, epochs=60, verbose=0, seed=0)
    assert m.task == "regression"
    assert hist.history["mae"][-1] < 0.05
    assert m.predict(x).shape == (128, 1)


@pytest.mark.parametrize("case,match", [
    ("not_compiled", "compile"),
    ("length", "100 samples but y has 99"),
    ("nan", "NaN"),
    ("features", "3 features but the model expects 2"),
    ("labels", "labels must lie in 0..1"),
    ("negative_labels", "labels must lie in 0..1"),
    ("float_labels", "non-integer labels"),
    ("one_dim", "reshape"),
    ("empty", "empty"),
])
def test_bad_input_errors_name_the_fix(case: str, match: str) -> None:
    x, y = separable(100)
    m = Model(nn.Linear(2, 2), device="cpu")
    if case == "not_compiled":
        with pytest.raises(RuntimeError, match=match):
            m.fit(x, y, verbose=0)
        return
    m.compile("adam", "ce")
    bad = {
        "length": lambda: m.fit(x, y[:99], verbose=0),
        "nan": lambda: m.fit(np.where(np.arange(200).reshape(100, 2) == 7, np.nan, x), y, verbose=0),
        "features": lambda: (m.fit(x, y, verbose=0, epochs=1), m.predict(np.zeros((4, 3)))),
        "labels": lambda: m.fit(x, y + 1, verbose=0),
        "negative_labels": lambda: m.fit(x, y - 1, verbose=0),
        "float_labels": lambda: m.fit(x, y + 0.5, verbose=0),
        "one_dim": lambda: m.predict(x[:, 0]),
        "empty": lambda: m.predict(x[:0]),
    }[case]
    with pytest.raises(ValueError, match=match):
        bad()


def test_compile_accepts_optimizer_class_instance_and_factory() -> None:
    x, y = separable(32)
    m = Model(nn.Linear(2, 2), device="cpu")
    for opt in (torch.optim.SGD, lambda ps: torch.optim.SGD(ps, lr=0.1),
                torch.optim.SGD(m.module.parameters(), lr=0.1)):
        m.compile(opt, "ce", lr=0.2)
        m.fit(x, y, epochs=1, verbose=0)
        assert m.optimizer.param_groups[0]["lr"] == (0.1 if callable(opt) and not isinstance(opt, type) else 0.2)
    with pytest.raises(ValueError, match="none of this model's parameters"):
        m.compile(torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1), "ce")
    with pytest.raises(ValueError, match="unknown optimizer"):
        m.compile("adamax")


def test_progress_output_verbose_levels(capsys) -> None:
    x, y = separable(64)
    m = linear_model()
    m.fit(x, y, epochs=2, verbose=2)
    out = capsys.readouterr().out
    assert out.count("Epoch ") == 2 and "loss:" in out and "accuracy:" in out
    m.fit(x, y, epochs=1, verbose=1)
    err = capsys.readouterr().err
    assert "Epoch 1/1" in err and "loss" in err
    m.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr() == ("", "")


def test_save_load_round_trip_gives_identical_predictions(tmp_path) -> None:
    x, y = separable(64)
    m = build_model("snn", n_in=2, n_out=2, hidden=[8], num_steps=4, seed=0, device="cpu",
                    classes=["a", "b"])
    m.fit(x, np.array(["a", "b"])[y], epochs=2, verbose=0, seed=0)
    m.save(tmp_path / "ckpt")
    for loaded in (Model.load(tmp_path / "ckpt"), npio.load(tmp_path / "ckpt")):
        np.testing.assert_array_equal(loaded.predict_proba(x), m.predict_proba(x))
        np.testing.assert_array_equal(loaded.predict(x), m.predict(x))
        assert loaded.classes == ["a", "b"] and loaded.architecture == m.architecture
        assert loaded.evaluate(x, np.array(["a", "b"])[y]) == m.evaluate(x, np.array(["a", "b"])[y])
        with pytest.raises(ValueError, match="features"):
            loaded.predict(np.zeros((2, 5), np.float32))
    # a module of library layers is saved as a spec of its layers (torch's Linear is one of them) ...
    plain = linear_model()
    plain.save(tmp_path / "plain")
    np.testing.assert_array_equal(Model.load(tmp_path / "plain").predict_proba(x), plain.predict_proba(x))

    # ... a module of the user's own class cannot be rebuilt from a config
    class Mine(nn.Linear):
        pass

    custom = Model(Mine(2, 2), device="cpu")
    with pytest.raises(CheckpointError, match="build_model"):
        custom.save(tmp_path / "custom")


def test_custom_metric_and_model_repr() -> None:
    x, y = separable(50)
    m = Model(nn.Linear(2, 2), device="cpu").compile("adam", "ce", [get_metric("mae"), "accuracy"])
    hist = m.fit(x, y, epochs=1, verbose=0)
    assert {"mae", "accuracy"} <= set(hist.history)
    assert "Model(" in repr(m) and m.count_params() == 6


def test_iterable_loader_without_length() -> None:
    x, y = separable(64)

    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(zip(torch.from_numpy(x), torch.from_numpy(y)))

    m = linear_model()
    hist = m.fit(DataLoader(Stream(), batch_size=16), epochs=2, verbose=1)
    assert len(hist.history["loss"]) == 2
    with pytest.raises(ValueError, match="validation_split needs array data"):
        m.fit(DataLoader(Stream(), batch_size=16), validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="y=None"):
        m.fit(DataLoader(Stream(), batch_size=16), y, verbose=0)


def test_fit_threads_auto_trains_small_models_on_one_thread_and_restores_the_setting() -> None:
    from neuroplastic.training import LambdaCallback
    from neuroplastic.training.model import SMALL_MODEL_PARAMS

    x = torch.randn(64, 8)
    y = (x[:, 0] > 0).long()
    seen: list[int] = []
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(torch.get_num_threads()))
    before = torch.get_num_threads()
    small = Model(nn.Sequential(nn.Linear(8, 2))).compile(optimizer="adam", loss="cross_entropy")
    assert small.count_params() < SMALL_MODEL_PARAMS
    small.fit(x, y, epochs=1, verbose=0, callbacks=[record])
    small.fit(x, y, epochs=1, verbose=0, callbacks=[record], threads=None)
    small.fit(x, y, epochs=1, verbose=0, callbacks=[record], threads=3)
    assert seen == [1, before, 3] and torch.get_num_threads() == before
    big = Model(nn.Sequential(nn.Linear(8, 25_000))).compile(optimizer="sgd", loss="mse")   # 225,000 parameters
    big.fit(x, torch.zeros(64, 25_000), epochs=1, verbose=0, callbacks=[record])
    assert seen[-1] == before and torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads must be"):
        small.fit(x, y, epochs=1, verbose=0, threads=0)
