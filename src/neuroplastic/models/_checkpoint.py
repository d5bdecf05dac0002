r"""Safe checkpoints for fitted scikit-learn-style estimators (no pickle, no joblib).

scikit-learn's own advice for persisting an estimator is ``pickle``/``joblib``, which runs
arbitrary code on load. :class:`EstimatorCheckpoint` gives neuroplastic's estimators the library's
checkpoint format instead (:func:`neuroplastic.io.save` / :func:`neuroplastic.io.load`: a JSON
config plus a safetensors file, written atomically, verified on load):

* ``config.json`` holds the constructor parameters (``get_params(deep=False)``) and every fitted
  attribute (a public name ending in ``_``) that is plain data: numbers, strings, lists, dicts,
  tuples, label arrays of strings or objects (the JSON codec is :mod:`neuroplastic.io.estimator`);
* ``weights.safetensors`` holds numeric arrays, tensors, and the state of the fitted modules:
  an ``nn.Module`` attribute, a :class:`~neuroplastic.training.Model` (rebuilt from its own config)
  or a nested estimator (saved recursively under its attribute name).

An estimator whose fitted attributes include ``nn.Module`` objects rebuilds their skeletons in
:meth:`EstimatorCheckpoint._checkpoint_modules` before their weights are loaded. Anything that is
none of the above is an error naming the attribute: nothing is silently dropped.

A fitted :class:`~neuroplastic.training.Model` attribute also keeps its training state: the
optimizer's moments and step counts and its fit settings (``fit_defaults``, e.g. the batch size),
so a ``partial_fit`` after loading continues exactly as it would have without the round trip.
Random-generator states are not saved (``random_state`` is a constructor parameter and is
saved; ``partial_fit`` seeds from it).

This lives in :mod:`neuroplastic.models` (above ``training``) because it knows ``Model``; it was
``neuroplastic.io.estimator.EstimatorCheckpoint`` before (still importable there, deprecated).

Example:
    >>> import tempfile
    >>> import numpy as np
    >>> import neuroplastic as npl
    >>> from neuroplastic import MLPClassifier
    >>> X = np.random.default_rng(0).normal(size=(60, 3)); y = np.array(["a", "b"] * 30)
    >>> clf = MLPClassifier(architecture="wide", max_epochs=2, random_state=0, device="cpu").fit(X, y)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = clf.save(f"{d}/clf")
    ...     clf2 = npl.load(f"{d}/clf")
    >>> bool((clf2.predict(X) == clf.predict(X)).all()), clf2.classes_.tolist()
    (True, ['a', 'b'])
"""
from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from neuroplastic.io.checkpoint import (
    _NAMES,
    CheckpointError,
    register_training_state,
    registered_class,
    save,
    training_hooks,
)
from neuroplastic.io.estimator import _from_json, _to_json
from neuroplastic.training.model import Model

__all__ = ["EstimatorCheckpoint"]


def _registered(obj: Any) -> str | None:
    for klass in type(obj).__mro__:
        if klass in _NAMES:
            return _NAMES[klass]
    return None


class EstimatorCheckpoint:
    """Mixin: ``save(path)`` and :func:`neuroplastic.load` for a fitted estimator (see the module).

    Subclasses are registered with :func:`~neuroplastic.io.register_serializable`; those holding
    ``nn.Module`` attributes override :meth:`_checkpoint_modules`, and those with private fitted
    state (a seed, a generator) restore it in :meth:`_after_checkpoint_load`.
    """

    #: fitted attributes deliberately left out of checkpoints (derived caches); documented per class.
    _checkpoint_skip: tuple[str, ...] = ()
    #: private attributes that are fitted state too (e.g. accumulators that ``partial_fit`` continues).
    _checkpoint_private: tuple[str, ...] = ()

    # ---------------------------------------------------------------- hooks
    def _checkpoint_modules(self) -> dict[str, nn.Module]:
        """Skeletons of the ``nn.Module`` attributes, built from the restored plain attributes."""
        return {}

    def _after_checkpoint_load(self) -> None:
        """Restore private state derived from the parameters (e.g. a seed) after loading."""

    # ---------------------------------------------------------------- helpers
    def _saved_shape(self, name: str) -> list[int]:
        """Inside :meth:`_checkpoint_modules`: the saved shape of the array attribute ``name``."""
        return list(self._checkpoint_meta[name]["shape"])

    def _fitted_names(self) -> list[str]:
        public = [k for k in vars(self) if k.endswith("_") and not k.startswith("_") and k not in self._checkpoint_skip]
        return sorted(public) + [k for k in self._checkpoint_private if k in vars(self)] if public else []

    def _check_fitted_for_save(self) -> list[str]:
        names = self._fitted_names()
        if not names:
            raise CheckpointError(f"this {type(self).__name__} is not fitted: call fit(X, y) before save()")
        return names

    # ---------------------------------------------------------------- checkpoint protocol
    def get_config(self) -> dict[str, Any]:
        """Constructor parameters and the plain-data fitted attributes (JSON-able)."""
        cls = type(self).__name__
        params = {k: _to_json(v, f"{cls} parameter {k}") for k, v in self.get_params(deep=False).items()}
        fitted: dict[str, Any] = {}
        for name in self._check_fitted_for_save():
            v = getattr(self, name)
            where = f"{cls}.{name}"
            if isinstance(v, Model):
                fitted[name] = {"kind": "model", "config": v.get_config()}
            elif isinstance(v, EstimatorCheckpoint):
                sub = _registered(v)
                if sub is None:
                    raise CheckpointError(f"{where} is a {type(v).__name__}, which is not registered as serializable")
                fitted[name] = {"kind": "estimator", "class": sub, "config": v.get_config()}
            elif isinstance(v, nn.Module):
                fitted[name] = {"kind": "module"}
            elif isinstance(v, torch.Tensor):
                fitted[name] = {"kind": "tensor", "dtype": str(v.dtype).removeprefix("torch."), "shape": list(v.shape)}
            elif isinstance(v, np.ndarray):
                if v.dtype.kind in "biuf":
                    fitted[name] = {"kind": "ndarray", "dtype": v.dtype.str, "shape": list(v.shape)}
                elif v.dtype.kind in "UO":
                    fitted[name] = {"kind": "array", "dtype": v.dtype.str, "shape": list(v.shape),
                                    "value": _to_json(v.ravel().tolist(), where)}
                else:
                    raise CheckpointError(f"{where} has dtype {v.dtype}, which cannot be saved: convert it to "
                                          "numbers or strings")
            else:
                fitted[name] = {"kind": "json", "value": _to_json(v, where)}
        return {"params": params, "fitted": fitted}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "EstimatorCheckpoint":
        """An unfitted estimator with the saved parameters; :meth:`load_state_dict` fits it."""
        est = cls(**_from_json(config["params"]))
        est._checkpoint_meta = config["fitted"]
        est._restore_plain()
        est._checkpoint_children = {}
        for name, meta in est._checkpoint_meta.items():   # rebuild modules so state_dict() lists their keys
            if meta["kind"] == "model":
                est._checkpoint_children[name] = Model.from_config(meta["config"])
            elif meta["kind"] == "estimator":
                sub = registered_class(meta["class"])
                if sub is None:
                    raise CheckpointError(f"{name} is a {meta['class']!r}, which is not registered: import it first")
                est._checkpoint_children[name] = sub.from_config(meta["config"])
        mods = est._checkpoint_modules()
        for name, meta in est._checkpoint_meta.items():
            if meta["kind"] == "module":
                if name not in mods:
                    raise CheckpointError(f"{cls.__name__} cannot rebuild its module {name}: this version of the "
                                          "class does not know it")
                est._checkpoint_children[name] = mods[name]
        return est

    def _restore_plain(self) -> None:
        for name, meta in self._checkpoint_meta.items():
            if meta["kind"] == "json":
                setattr(self, name, _from_json(meta["value"]))
            elif meta["kind"] == "array":
                arr = np.empty(len(meta["value"]), dtype=np.dtype(meta["dtype"]))
                arr[:] = _from_json(meta["value"])
                setattr(self, name, arr.reshape(meta["shape"]))

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Numeric arrays, tensors and module states, keyed ``<attribute>`` or ``<attribute>.<key>``."""
        meta = getattr(self, "_checkpoint_meta", None)
        out: dict[str, torch.Tensor] = {}
        if meta is not None:   # built by from_config, not loaded yet: the keys and shapes it expects
            for name, m in meta.items():
                if m["kind"] == "ndarray":   # torch.zeros, not numpy: load() bounds torch allocations
                    dtype = torch.from_numpy(np.zeros(0, dtype=np.dtype(m["dtype"]))).dtype
                    out[name] = torch.zeros(m["shape"], dtype=dtype)
                elif m["kind"] == "tensor":
                    out[name] = torch.zeros(m["shape"], dtype=getattr(torch, m["dtype"]))
                elif name in self._checkpoint_children:
                    out.update({f"{name}.{k}": v for k, v in self._checkpoint_children[name].state_dict().items()})
            return out
        for name in self._check_fitted_for_save():
            v = getattr(self, name)
            if isinstance(v, np.ndarray) and v.dtype.kind in "biuf":
                out[name] = torch.from_numpy(np.ascontiguousarray(v))
            elif isinstance(v, torch.Tensor):
                out[name] = v
            elif isinstance(v, (nn.Module, EstimatorCheckpoint, Model)):
                out.update({f"{name}.{k}": t for k, t in v.state_dict().items()})
        return out

    def load_state_dict(self, state: Mapping[str, torch.Tensor], strict: bool = True) -> None:
        """Fill the estimator built by :meth:`from_config` with the saved arrays and module states."""
        meta = getattr(self, "_checkpoint_meta", None)
        if meta is None:
            raise CheckpointError("load_state_dict fills an estimator built by from_config: use neuroplastic.load(path)")
        for name, m in meta.items():
            kind = m["kind"]
            if kind in ("ndarray", "tensor"):
                if name not in state:
                    raise CheckpointError(f"the checkpoint lacks the array {name!r}")
                t = state[name]
                if list(t.shape) != m["shape"]:
                    raise CheckpointError(f"the array {name!r} has shape {list(t.shape)}, the config says {m['shape']}")
                setattr(self, name, t.cpu().numpy().astype(np.dtype(m["dtype"]), copy=True) if kind == "ndarray"
                        else t.clone())
            elif kind in ("model", "estimator", "module"):
                child = self._checkpoint_children[name]
                prefix = name + "."
                sub = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
                child.load_state_dict(sub, strict=strict)
                setattr(self, name, child)
        for k in ("_checkpoint_meta", "_checkpoint_children"):
            self.__dict__.pop(k, None)
        self._after_checkpoint_load()

    def save(self, path: str | os.PathLike[str], *, extra: dict[str, Any] | None = None) -> Any:
        """Save the fitted estimator to the checkpoint directory ``path`` (atomic; see the module).

        Load it back with :func:`neuroplastic.load`.
        """
        return save(self, path, extra=extra)



# ---------------------------------------------------------------- training state of fitted Model attributes


def _estimator_training_state(est: Any, **options: Any) -> tuple[dict[str, Any], dict[str, torch.Tensor]] | None:
    """Optimizer state and fit settings of each fitted ``Model`` attribute (RNG not needed: partial_fit seeds)."""
    children: dict[str, Any] = {}
    tensors: dict[str, torch.Tensor] = {}
    for name in est._fitted_names():
        v = getattr(est, name)
        hooks = training_hooks(v) if isinstance(v, (Model, EstimatorCheckpoint)) else None
        if hooks is None:
            continue
        opts = {"include_optimizer": v.optimizer is not None, "include_rng": False} if isinstance(v, Model) else options
        got = hooks[0](v, **opts)
        if got is None:
            continue
        children[name] = got[0]
        tensors.update({f"{name}/{k}": t for k, t in got[1].items()})
    return ({"children": children}, tensors) if children else None


def _set_estimator_training_state(est: Any, doc: dict[str, Any], tensors: Mapping[str, torch.Tensor]) -> None:
    children = dict(doc.get("children") or {})
    for name in est._fitted_names():  # older checkpoints saved none: each child still gets its defaults back
        v = getattr(est, name)
        if name not in children and isinstance(v, (Model, EstimatorCheckpoint)) and training_hooks(v):
            children[name] = {}
    for name, sub in children.items():
        child = getattr(est, name, None)
        hooks = None if child is None else training_hooks(child)
        if hooks is None:
            raise CheckpointError(f"the checkpoint holds training state for {type(est).__name__}.{name}, which this "
                                  "version of the class does not have: re-save the estimator")
        prefix = name + "/"
        hooks[1](child, sub, {k[len(prefix):]: t for k, t in tensors.items() if k.startswith(prefix)})


register_training_state(EstimatorCheckpoint, _estimator_training_state, _set_estimator_training_state)
