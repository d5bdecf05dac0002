"""``neuroplastic train`` / ``predict``: a classifier on a user's CSV table.

``train_csv`` splits the table (stratified, seeded), fits the feature/label encoder on the
training rows only, trains the chosen model, and writes under ``out/``:
``model/`` (safetensors weights + JSON config, with the encoder in the config's ``extra``),
``report.json`` (test accuracy, per-class precision/recall, confusion matrix, timings) and
``report.txt``. ``predict_csv`` reloads both and writes one prediction per input row, in order.
"""
from __future__ import annotations

import csv
import io
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from neuroplastic._core.atomic import atomic_path
from neuroplastic._core.checks import check_output_path
from neuroplastic._core.errors import InputError, StateError
from neuroplastic._core.seed import seed_everything

MODEL_NAMES = {"snn": "snn", "mlp": "mlp_wide", "mlp-founding": "mlp_founding",
               "plasticity": "plasticity", "hybrid": "hybrid"}
#: models trained through ``SNNClassifier(learning=...)`` (saved as estimator checkpoints)
ESTIMATOR_MODELS = ("plasticity", "hybrid")


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` atomically, with the mode any new file gets here (the umask's, not mkstemp's 0600)."""
    from neuroplastic.io._fs import umask_mode

    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, umask_mode())
    return Path(path)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**32:
        raise InputError(f"seed must be an integer from 0 to 2**32-1, got {seed!r}: pass e.g. --seed 0")
    return int(seed)


def _check_ddp_launch(strategy: str | None) -> None:
    """``ddp`` needs torchrun's environment: say so before reading data or training."""
    if strategy in (None, "none"):
        return
    need = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    missing = [k for k in need if k not in os.environ]
    if missing:
        raise InputError(f"--strategy {strategy} runs one process per worker, but {', '.join(missing)} "
                         "is not set: launch it with torchrun, e.g. `torchrun --nproc-per-node=2 -m neuroplastic "
                         "train ... --strategy ddp`, or drop --strategy")


def _n_params(clf: Any) -> int:
    if hasattr(clf, "count_params"):
        return int(clf.count_params())
    return int(sum(t.numel() for k, t in clf.state_dict().items() if t.is_floating_point()))


def train_csv(data: str | Path, target: str, out: str | Path, *, model: str = "snn", epochs: int | None = None,
              test_size: float = 0.25, seed: int = 0, strategy: str | None = None, verbose: int = 0,
              exclude: Sequence[str] = (), encoding: str = "auto",
              echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Train a classifier on ``data`` predicting column ``target``; returns the report dict.

    Every other column is a feature (text columns one-hot encoded, see
    :class:`~neuroplastic.datasets.TableEncoder`) except those in ``exclude``.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    from neuroplastic.datasets import load_csv
    from neuroplastic.training import build_model

    if model not in MODEL_NAMES:
        raise InputError(f"unknown model {model!r}: choose one of {', '.join(MODEL_NAMES)}")
    if not 0.0 < test_size < 1.0:
        raise InputError(f"test_size must be in (0, 1), got {test_size}")
    if epochs is not None and epochs < 1:
        raise InputError(f"epochs must be >= 1, got {epochs}")
    seed = _check_seed(seed)
    if model in ESTIMATOR_MODELS and strategy not in (None, "none"):
        raise InputError(f"--strategy {strategy} trains the gradient models only: use --model snn or mlp with ddp")
    _check_ddp_launch(strategy)
    out = Path(out)
    if _is_main_process():   # before any work: a finished training run is never lost at write time
        check_output_path(out, folder=True, inputs=[data])
    split = load_csv(data, target, test_size=test_size, seed=seed, exclude=list(exclude), encoding=encoding)
    enc = split.encoder
    classes = list(enc.classes_.tolist())
    n_in = split.x_train.shape[1]
    seed_everything(seed)
    if model in ESTIMATOR_MODELS:
        from neuroplastic.training.sklearn import SNNClassifier

        clf = SNNClassifier(learning=model, max_epochs=epochs, random_state=seed, verbose=verbose)
        fit: Callable[[], Any] = lambda: clf.fit(split.x_train, split.y_train)  # noqa: E731
    else:
        clf = build_model(MODEL_NAMES[model], n_in=n_in, n_out=len(classes), seed=seed, classes=None)
        fit_kw = dict(clf.fit_defaults)
        if epochs is not None:
            fit_kw["epochs"] = epochs
        if strategy is not None:
            fit_kw["strategy"] = strategy
        fit = lambda: clf.fit(split.x_train, split.y_train, verbose=verbose, seed=seed, **fit_kw)  # noqa: E731
    if _is_main_process():
        echo(f"training {model} on {split.x_train.shape[0]} rows x {n_in} features, {len(classes)} classes ...")
    t0 = time.perf_counter()
    fit()
    secs = time.perf_counter() - t0
    pred = np.asarray(clf.predict(split.x_test))
    acc = float(np.mean(pred == split.y_test))
    p, r, f, s = precision_recall_fscore_support(split.y_test, pred, labels=range(len(classes)), zero_division=0)
    report = {
        "data": str(data), "target": target, "model": model, "classes": classes,
        "n_train": int(split.x_train.shape[0]), "n_test": int(split.x_test.shape[0]), "features": list(enc.feature_names_),
        "test_accuracy": acc, "train_seconds": secs, "parameters": _n_params(clf),
        "per_class": [{"class": c, "precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
                      for i, c in enumerate(classes)],
        "confusion_matrix": confusion_matrix(split.y_test, pred, labels=range(len(classes))).tolist(),
    }
    if _is_main_process():
        out.mkdir(parents=True, exist_ok=True)
        clf.save(out / "model", extra={"encoder": enc.to_config(), "target": target, "report": {"test_accuracy": acc}})
        atomic_write_text(out / "report.json", json.dumps(report, indent=2, default=str))
        lines = [f"{model} on {data} -> {target}: test accuracy {acc * 100:.2f}% "
                 f"({report['n_test']} held-out rows), trained in {secs:.1f} s"]
        lines += [f"  {d['class']!s:>12}: precision {d['precision']:.3f} recall {d['recall']:.3f} (n={d['support']})"
                  for d in report["per_class"]]
        atomic_write_text(out / "report.txt", "\n".join(lines) + "\n")
        echo("\n".join(lines))
        echo(f"saved model and report under {out}")
    return report


def _is_main_process() -> bool:
    from neuroplastic.distributed import is_main_process

    return is_main_process()


def load_trained(model_dir: str | Path) -> tuple[Any, Any, dict[str, Any]]:
    """Load ``(model, encoder, extra)`` from a folder written by :func:`train_csv`."""
    from neuroplastic.datasets import TableEncoder
    from neuroplastic.io import load, load_config

    model_dir = Path(model_dir)
    ckpt = model_dir / "model" if (model_dir / "model").is_dir() else model_dir
    if not (ckpt / "config.json").is_file():
        raise ValueError(f"{model_dir} holds no trained model (no model/config.json): pass the folder that "
                         "`neuroplastic train --out` wrote")
    extra = load_config(ckpt).get("extra", {})
    if not isinstance(extra, dict) or "encoder" not in extra:
        raise InputError(f"{ckpt} has no table encoder in its config: it was not written by `neuroplastic train`; "
                         "pass the folder that `neuroplastic train --out` created")
    enc = TableEncoder.from_config(extra["encoder"])
    model = load(ckpt)
    try:  # the model and its encoder must agree (a hand-edited config could pair them wrongly)
        zero = np.zeros((1, len(enc.feature_names_)), dtype=np.float32)
        probe = np.asarray(model.predict(zero))
        ok = probe.shape == (1,) and enc.classes_ is not None and 0 <= int(probe[0]) < len(enc.classes_)
        if ok and hasattr(model, "predict_proba"):
            ok = np.asarray(model.predict_proba(zero)).shape == (1, len(enc.classes_))
    except (RuntimeError, ValueError, IndexError, TypeError) as e:
        ok, probe = False, e
    if not ok:
        raise StateError(f"{ckpt}: the model and its table encoder do not fit together ({len(enc.feature_names_)} "
                         f"features, {0 if enc.classes_ is None else len(enc.classes_)} classes; {probe!r}): the "
                         "config was damaged or edited; retrain with `neuroplastic train`")
    return model, enc, extra


def predict_csv(model_dir: str | Path, data: str | Path, out: str | Path | None = None, *, proba: bool = False) -> str:
    """Predict every row of ``data``; writes ``out`` atomically (if given) and returns the CSV text.

    ``out`` is checked before any work, and may not be ``data`` itself.
    """
    if out is not None:
        inputs = [data] if isinstance(data, (str, os.PathLike)) else []
        inputs += [q for q in Path(model_dir).rglob("*") if q.is_file()]   # nor a file of the model
        check_output_path(out, inputs=inputs)
    model, enc, extra = load_trained(model_dir)
    x = enc.transform(data)
    codes = np.asarray(model.predict(x)).astype(int)
    labels = enc.inverse_transform_target(codes)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    header = ["row", f"predicted_{extra.get('target', 'label')}"]
    probs = None
    if proba:
        probs = model.predict_proba(x)
        header += [f"p_{c}" for c in enc.classes_.tolist()]
    w.writerow(header)
    for i, lab in enumerate(labels.tolist()):
        row = [i, lab]
        if probs is not None:
            row += [f"{v:.6g}" for v in probs[i]]
        w.writerow(row)
    text = buf.getvalue()
    if len(labels) != x.shape[0]:  # pragma: no cover - defensive: one output row per input row
        raise RuntimeError("prediction count differs from the input row count: this is a bug")
    if out is not None:
        atomic_write_text(out, text)
    return text


def robustness_csv(model_dirs: list[str | Path], data: str | Path, out: str | Path, *, repeats: int = 3, seed: int = 0,
                   echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Robustness report of models written by :func:`train_csv` on a labelled CSV."""
    from neuroplastic.robustness import plot_robustness, robustness_report

    from neuroplastic.datasets import read_csv

    seed = _check_seed(seed)
    if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)) or repeats < 1:
        raise InputError(f"repeats must be an integer >= 1, got {repeats!r}")
    out = Path(out)
    check_output_path(out, folder=True, inputs=[data])
    table = read_csv(data) if isinstance(data, (str, os.PathLike)) else data   # read once
    models: dict[str, Any] = {}
    splits: dict[str, tuple[np.ndarray, np.ndarray]] = {}   # each model through its own encoder
    classes = None
    for d in model_dirs:
        model, enc, extra = load_trained(d)
        if classes is None:
            classes = enc.classes_.tolist()
        elif enc.classes_.tolist() != classes:
            raise InputError(f"{d} predicts classes {enc.classes_.tolist()} but the first model {classes}: "
                             "compare models trained on the same target")
        name = Path(d).name
        while name in models:
            name += "'"
        models[name] = model
        splits[name] = (enc.transform(table), enc.transform_target(table))
    report = robustness_report(models, splits, repeats=repeats, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "robustness.json", json.dumps(report, indent=2))
    plot_robustness(report, str(out / "robustness.png"))
    for name, res in report["models"].items():
        echo(f"{name}: clean accuracy {res['clean'] * 100:.2f}%")
        for kind, why in res.get("not_applicable", {}).items():
            echo(f"  {kind}: not applicable ({why})")
    echo(f"wrote {out / 'robustness.json'} and {out / 'robustness.png'}")
    return report
