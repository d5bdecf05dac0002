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
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from neuroplastic._core.atomic import atomic_write_text
from neuroplastic._core.seed import seed_everything

MODEL_NAMES = {"snn": "snn", "mlp": "mlp_wide", "mlp-founding": "mlp_founding",
               "plasticity": "plasticity", "hybrid": "hybrid"}
#: models trained through ``SNNClassifier(learning=...)`` (saved as estimator checkpoints)
ESTIMATOR_MODELS = ("plasticity", "hybrid")


def _n_params(clf: Any) -> int:
    if hasattr(clf, "count_params"):
        return int(clf.count_params())
    return int(sum(t.numel() for k, t in clf.state_dict().items() if t.is_floating_point()))


def train_csv(data: str | Path, target: str, out: str | Path, *, model: str = "snn", epochs: int | None = None,
              test_size: float = 0.25, seed: int = 0, strategy: str | None = None, verbose: int = 0,
              exclude: Sequence[str] = (), echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Train a classifier on ``data`` predicting column ``target``; returns the report dict.

    Every other column is a feature (text columns one-hot encoded, see
    :class:`~neuroplastic.datasets.TableEncoder`) except those in ``exclude``.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    from neuroplastic.datasets import load_csv
    from neuroplastic.training import build_model

    if model not in MODEL_NAMES:
        raise ValueError(f"unknown model {model!r}: choose one of {', '.join(MODEL_NAMES)}")
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    out = Path(out)
    split = load_csv(data, target, test_size=test_size, seed=seed, exclude=list(exclude))
    enc = split.encoder
    classes = list(enc.classes_.tolist())
    n_in = split.x_train.shape[1]
    if epochs is not None and epochs < 1:
        raise ValueError("epochs must be >= 1")
    seed_everything(seed)
    if model in ESTIMATOR_MODELS:
        if strategy not in (None, "none"):
            raise ValueError(f"--strategy {strategy} trains the gradient models only: use --model snn or mlp with ddp")
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
    if "encoder" not in extra:
        raise ValueError(f"{ckpt} has no table encoder in its config: it was not written by `neuroplastic train`; "
                         "pass the folder that `neuroplastic train --out` created")
    return load(ckpt), TableEncoder.from_config(extra["encoder"]), extra


def predict_csv(model_dir: str | Path, data: str | Path, out: str | Path | None = None, *, proba: bool = False) -> str:
    """Predict every row of ``data``; writes ``out`` atomically (if given) and returns the CSV text."""
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
        raise RuntimeError("prediction count differs from the input row count")
    if out is not None:
        atomic_write_text(out, text)
    return text


def robustness_csv(model_dirs: list[str | Path], data: str | Path, out: str | Path, *, repeats: int = 3, seed: int = 0,
                   echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Robustness report of models written by :func:`train_csv` on a labelled CSV."""
    from neuroplastic.robustness import plot_robustness, robustness_report

    models: dict[str, Any] = {}
    x = y = None
    classes = None
    for d in model_dirs:
        model, enc, extra = load_trained(d)
        if classes is None:
            classes = enc.classes_.tolist()
            x, y = enc.transform(data), enc.transform_target(data)
        elif enc.classes_.tolist() != classes:
            raise ValueError(f"{d} predicts classes {enc.classes_.tolist()} but the first model {classes}: "
                             "compare models trained on the same target")
        name = Path(d).name
        while name in models:
            name += "'"
        models[name] = model
    report = robustness_report(models, (x, y), repeats=repeats, seed=seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "robustness.json", json.dumps(report, indent=2))
    plot_robustness(report, str(out / "robustness.png"))
    for name, res in report["models"].items():
        echo(f"{name}: clean accuracy {res['clean'] * 100:.2f}%")
        for kind, why in res.get("not_applicable", {}).items():
            echo(f"  {kind}: not applicable ({why})")
    echo(f"wrote {out / 'robustness.json'} and {out / 'robustness.png'}")
    return report
