"""Exact resume: a :class:`~neuroplastic.training.Model` checkpoint that continues training bit for bit.

Besides the weights, a Model checkpoint keeps a *training state* (the ``training`` section of the
envelope, :mod:`neuroplastic.io._envelope`):

* always: ``fit_defaults`` and the settings of the last ``fit`` (batch size, epochs, shuffle,
  seed, validation split), so a loaded model trains with the batch size it was trained with;
* always: the state of ``Plastic`` layers' rules that is shared by the batch (BCM's sliding
  threshold), which ``fit`` carries from batch to batch (:mod:`neuroplastic.training._plastic`);
* with ``include_optimizer=True`` (``Model.save(path, include_optimizer=True)``;
  :class:`~neuroplastic.training.ModelCheckpoint` does it by default): the optimizer state (none
  for an uncompiled model that trains only by plasticity)
  (moments, step counts, parameter groups) and the random states that training draws from: the
  torch CPU generator (dropout, Poisson encoders), CUDA generators, NumPy's and Python's global
  generators, and the generator that shuffles the samples each epoch; plus the epoch reached.

``model.fit(x, y, epochs=N, resume=path)`` loads all of it into the model and trains epochs
``epoch + 1 .. N-1``; on CPU the result is identical to an uninterrupted ``fit(x, y, epochs=N)``
(``tests/io/test_resume.py`` checks it with ``torch.equal``). The random states are put back
just before the first resumed epoch, after fit's own setup. A plain :func:`neuroplastic.load`
restores the optimizer state and fit settings but leaves the global random generators alone.
"""
from __future__ import annotations

import os
import random
from typing import Any, Mapping, NamedTuple

import numpy as np
import torch

from neuroplastic.io import CheckpointError, read_checkpoint, register_training_state
from neuroplastic.io.estimator import _from_json, _to_json
from neuroplastic.training._registry import ARCHITECTURES
from neuroplastic.training.history import Callback

__all__ = ["Resume", "begin", "load", "model_training_state", "save", "set_model_training_state", "start"]

MODEL_KIND = "neuroplastic.training.Model"


# ------------------------------------------------------------------ collect


def _optimizer_state(opt: torch.optim.Optimizer) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, st in sd["state"].items():
        for key, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"optimizer/{idx}/{key}"] = v
            else:
                scalars.setdefault(str(idx), {})[key] = _to_json(v, f"optimizer state {idx}.{key}")
    groups = _to_json(sd["param_groups"], "optimizer param_groups")
    return {"class": type(opt).__name__, "param_groups": groups, "scalars": scalars}, tensors


def _rng_state(model: Any) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    tensors = {"rng/torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{i}"] = s
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    tensors["rng/numpy"] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
    version, py_state, py_gauss = random.getstate()
    doc: dict[str, Any] = {"numpy": {"name": name, "pos": int(pos), "has_gauss": int(has_gauss), "gauss": float(gauss)},
                           "python": {"version": version, "state": list(py_state), "gauss": py_gauss}}
    gen = getattr(model, "_shuffle_generator", None)
    if isinstance(gen, torch.Generator):
        tensors["rng/shuffle"] = gen.get_state()
    return doc, tensors


def _last_epoch(model: Any) -> int | None:
    hist = getattr(model, "history", None)
    epochs = getattr(hist, "epoch", None)
    return int(epochs[-1]) if epochs else None


def model_training_state(model: Any, *, include_optimizer: bool = False, include_rng: bool | None = None,
                         epoch: int | None = None) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The training state of ``model`` (see the module) as ``(json, tensors)`` for the envelope.

    Args:
        model: the Model.
        include_optimizer: add the optimizer state.
        include_rng: add the random states (default: as ``include_optimizer``).
        epoch: the last completed epoch (0-based; default: the last one of ``model.history``).
    """
    doc: dict[str, Any] = {
        "fit_defaults": _to_json(dict(getattr(model, "fit_defaults", {}) or {}), "fit_defaults"),
        "fit_settings": _to_json(getattr(model, "_fit_settings", None), "fit settings"),
        "epoch": _last_epoch(model) if epoch is None else int(epoch),
    }
    tensors: dict[str, torch.Tensor] = {}
    for layer, fields in (getattr(model, "_plastic_state", None) or {}).items():
        for field, t in fields.items():  # the shared rule state of Plastic layers (BCM's threshold)
            tensors[f"plastic/{layer}/{field}"] = t.detach()
    if include_optimizer and model.optimizer is not None:  # an uncompiled model (plasticity only) has none
        doc["optimizer"], t = _optimizer_state(model.optimizer)
        tensors.update(t)
    if include_optimizer if include_rng is None else include_rng:
        doc["rng"], t = _rng_state(model)
        tensors.update(t)
    return doc, tensors


# ------------------------------------------------------------------ restore


def _load_optimizer(model: Any, doc: dict[str, Any], tensors: Mapping[str, torch.Tensor], where: Any) -> None:
    opt = model.optimizer
    if opt is None:
        raise CheckpointError(f"{where} holds optimizer state but the model has no optimizer: compile it first")
    if type(opt).__name__ != doc["class"]:
        raise CheckpointError(f"{where} holds {doc['class']} state but the model is compiled with "
                              f"{type(opt).__name__}: compile it with the same optimizer to resume")
    state: dict[int, dict[str, Any]] = {}
    for key, t in tensors.items():
        if key.startswith("optimizer/"):
            _, idx, name = key.split("/", 2)
            state.setdefault(int(idx), {})[name] = t.clone()
    for idx, vals in (doc.get("scalars") or {}).items():
        state.setdefault(int(idx), {}).update(_from_json(vals))
    try:
        opt.load_state_dict({"state": state, "param_groups": _from_json(doc["param_groups"])})
    except (ValueError, KeyError, RuntimeError) as e:
        raise CheckpointError(f"the optimizer state in {where} does not fit this model ({e}): resume with the "
                              "model the checkpoint was written from") from e


def _plastic_state(tensors: Mapping[str, torch.Tensor], device: Any) -> dict[str, dict[str, torch.Tensor]]:
    out: dict[str, dict[str, torch.Tensor]] = {}
    for key, t in tensors.items():
        if key.startswith("plastic/"):
            layer, field = key[len("plastic/"):].rsplit("/", 1)
            out.setdefault(layer, {})[field] = t.clone().to(device)
    return out


def set_model_training_state(model: Any, doc: dict[str, Any], tensors: Mapping[str, torch.Tensor]) -> None:
    """Put back what :func:`neuroplastic.load` restores: optimizer state and fit settings (no global RNG).

    A checkpoint without fit defaults (neuroplastic 0.1.0 forgot them, so a loaded model trained with
    batch size 32) gets its architecture's registered ones.
    """
    if doc.get("fit_defaults") is not None:
        model.fit_defaults = _from_json(doc["fit_defaults"])
    elif not getattr(model, "fit_defaults", None) and (model.architecture or {}).get("name"):
        known = ARCHITECTURES.get(model.architecture["name"])  # the registry, not architectures (which imports Model)
        if known is not None:
            model.fit_defaults = dict(known.fit)
    if doc.get("fit_settings") is not None:
        model._fit_settings = _from_json(doc["fit_settings"])
    if doc.get("optimizer") is not None and model.optimizer is not None:
        _load_optimizer(model, doc["optimizer"], tensors, "the checkpoint")
    model._plastic_state = _plastic_state(tensors, model.device)


register_training_state(MODEL_KIND, model_training_state, set_model_training_state)


class Resume(NamedTuple):
    """What ``fit(resume=path)`` continues from; :meth:`restore_rng` runs just before the first epoch (see :func:`start`)."""

    initial_epoch: int
    batch_size: int | None
    rng: dict[str, Any]
    rng_tensors: dict[str, torch.Tensor]

    def restore_rng(self, generator: torch.Generator) -> None:
        """Set the global random states and the shuffling ``generator`` to the saved ones."""
        t = self.rng_tensors
        torch.set_rng_state(t["rng/torch"].clone())
        cuda = sorted((k for k in t if k.startswith("rng/cuda/")), key=lambda k: int(k.rsplit("/", 1)[1]))
        if cuda and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([t[k].clone() for k in cuda])
        n = self.rng["numpy"]
        np.random.set_state((n["name"], t["rng/numpy"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
        p = self.rng["python"]
        random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
        if "rng/shuffle" in t:
            generator.set_state(t["rng/shuffle"].clone())


def begin(model: Any, path: str | os.PathLike[str], *, batch_size: int | None, initial_epoch: int) -> Resume:
    """Load ``path``'s weights and optimizer state into ``model``; the epoch and settings to continue with.

    Raises:
        CheckpointError: the checkpoint is not a Model's, holds no optimizer or random state
            (save it with ``include_optimizer=True`` or ``ModelCheckpoint``), records no epoch, or
            does not fit the model.
    """
    ck = read_checkpoint(path, kind=MODEL_KIND)
    doc = ck.training or {}
    if doc.get("rng") is None or (doc.get("optimizer") is None and model.optimizer is not None):
        raise CheckpointError(f"{ck.path} holds no optimizer and random state, so training cannot resume exactly: "
                              "save it with model.save(path, include_optimizer=True) or ModelCheckpoint "
                              "(include_optimizer=True by default), or load it and call fit without resume")
    if doc.get("epoch") is None:
        raise CheckpointError(f"{ck.path} records no completed epoch: it was saved before any fit; call fit without "
                              "resume")
    try:
        model.module.load_state_dict({k: v.to(model.device) for k, v in ck.tensors.items()})
    except RuntimeError as e:
        raise CheckpointError(f"the weights in {ck.path} do not fit this model ({e}): resume with the model the "
                              "checkpoint was written from (e.g. neuroplastic.training.Model.load(path))") from e
    if doc.get("optimizer") is not None:
        _load_optimizer(model, doc["optimizer"], {k: v.to(model.device) for k, v in ck.training_tensors.items()}, ck.path)
    model._plastic_state = _plastic_state(ck.training_tensors, model.device)
    settings = _from_json(doc.get("fit_settings") or {})
    start = int(doc["epoch"]) + 1
    if initial_epoch not in (0, start):
        raise CheckpointError(f"{ck.path} continues at epoch {start}, but initial_epoch={initial_epoch} was passed: "
                              "drop initial_epoch when resuming")
    bs = batch_size if batch_size is not None else settings.get("batch_size")
    return Resume(start, None if bs is None else int(bs), doc["rng"], dict(ck.training_tensors))


class _RestoreRandomState(Callback):
    """Sets the saved random states in ``on_train_begin``: after fit's setup, just before the first epoch."""

    def __init__(self, resumed: Resume, generator: torch.Generator) -> None:
        super().__init__()
        self.resumed, self.generator = resumed, generator

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.resumed.restore_rng(self.generator)


def start(model: Any, resume: str | os.PathLike[str] | None, generator: torch.Generator, callbacks: Any,
          batch_size: int | None, epochs: int, shuffle: bool, seed: int | None, validation_split: float,
          initial_epoch: int) -> tuple[int, int | None, list[Any] | None]:
    """Called by ``Model.fit`` once its shuffling generator exists: record the fit settings; resume if asked.

    Returns:
        ``(initial_epoch, batch_size, callbacks)`` for the rest of ``fit``: with ``resume``, the
        saved epoch + 1, the saved batch size unless one was passed, and the callbacks plus the
        one that restores the random states after the setup.
    """
    resumed = None
    if resume is not None:
        resumed = begin(model, resume, batch_size=batch_size, initial_epoch=int(initial_epoch))
        initial_epoch, batch_size = resumed.initial_epoch, resumed.batch_size
        callbacks = [*(callbacks or []), _RestoreRandomState(resumed, generator)]
    model._shuffle_generator = generator
    model._fit_settings = {"batch_size": batch_size, "epochs": int(epochs), "shuffle": bool(shuffle), "seed": seed,
                           "validation_split": float(validation_split), "initial_epoch": int(initial_epoch)}
    return int(initial_epoch), batch_size, None if callbacks is None else list(callbacks)


def save(model: Any, path: str | os.PathLike[str], *, extra: dict[str, Any] | None = None,
         include_optimizer: bool = False, epoch: int | None = None) -> Any:
    """``Model.save``: the checkpoint, with the optimizer and random states if ``include_optimizer``."""
    from neuroplastic.io import save as _save

    return _save(model, path, extra=extra, include_optimizer=include_optimizer, epoch=epoch)


def load(path: str | os.PathLike[str], *, map_location: str | torch.device | None = "cpu") -> Any:
    """``Model.load``: :func:`neuroplastic.io.load` (optimizer state and fit settings come back too)."""
    from neuroplastic.io import load as _load

    return _load(path, map_location=map_location)
