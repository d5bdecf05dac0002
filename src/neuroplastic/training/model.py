r"""Keras-style training for any ``nn.Module``: ``compile``, ``fit``, ``evaluate``, ``predict``.

``Model`` wraps a module that maps a batch ``x[B, ...]`` to either a static output ``[B, C]``
(an MLP) or a time-first output ``[T, B, C]`` (a spiking network that starts with an encoder).
Modules returning ``(y, state)``, like :class:`neuroplastic.Sequential`, are accepted; each
batch starts from rest. The compiled loss decides how a time-first output is read out
(see :mod:`neuroplastic.training.losses`), and metrics and ``predict`` use the same readout.

Each training step minimises the batch loss :math:`L(\theta) = \frac1B\sum_b \ell(f_\theta(x_b), y_b)`
with the compiled optimizer; epoch logs hold the batch-size-weighted means.

Example:
    >>> import numpy as np, torch
    >>> from torch import nn
    >>> x = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
    >>> y = (x[:, 0] > 0).astype("int64")
    >>> model = Model(nn.Linear(2, 2), device="cpu")
    >>> model = model.compile("adam", "cross_entropy", metrics=["accuracy"], lr=0.1)
    >>> hist = model.fit(x, y, epochs=20, batch_size=16, verbose=0, seed=0)
    >>> hist.history["accuracy"][-1] > 0.9
    True
"""
from __future__ import annotations

import copy
import os
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from neuroplastic._core.checks import check_finite
from neuroplastic._core.threads import SMALL_MODEL_PARAMS, cpu_threads, threads_for
from neuroplastic.io.checkpoint import CheckpointError, register_serializable
from neuroplastic.training._data import (
    DEFAULT_BATCH_SIZE,
    OptimizerLike,
    _Arrays,
    _is_loader,
    _Loader,
    make_optimizer,
    resolve_device,
)
from neuroplastic.training import _layers, _plastic, _resume
from neuroplastic.training._loop import run_fit
from neuroplastic.training._registry import build
from neuroplastic.training.history import Callback, CallbackList, History
from neuroplastic.training.losses import LOSSES, Loss, LossLike, get_loss
from neuroplastic.training.metrics import Metric, MetricLike, get_metric

__all__ = ["Model", "resolve_device", "SMALL_MODEL_PARAMS"]


@register_serializable("neuroplastic.training.Model")
class Model:
    """Keras-style wrapper around an ``nn.Module``.

    Args:
        module: the network. Output ``[B, C]``, ``[T, B, C]`` or a tuple whose first item is that.
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``, ...
        classes: optional class labels; ``predict`` returns ``classes[i]`` and ``fit`` accepts
            these labels in ``y`` (they are mapped to indices ``0..C-1``).
        architecture: ``{"name": ..., "config": {...}}`` naming a builder registered in
            :mod:`neuroplastic.training.architectures` (set by
            :func:`~neuroplastic.training.architectures.build_model`). Without it :meth:`save`
            stores the module as a spec of its layers, which works for modules built from the
            library's layers (:mod:`neuroplastic.training._layers`).

    Attributes:
        history: the :class:`History` of the last ``fit``.
        stop_training: set by callbacks to end ``fit`` after the current batch.
        input_shape: per-sample input shape, learned by the first ``fit`` (or from the architecture).
    """

    def __init__(self, module: nn.Module, *, device: str | torch.device = "auto",
                 classes: Sequence[Any] | None = None, architecture: dict[str, Any] | None = None) -> None:
        if not isinstance(module, nn.Module):
            raise TypeError(f"Model wraps an nn.Module, got {type(module).__name__}")
        self.device_setting = str(device)
        self.device = resolve_device(device)
        self.module = module.to(self.device)
        self.classes = None if classes is None else list(classes)
        self.architecture = architecture
        self.optimizer: torch.optim.Optimizer | None = None
        self.loss: Loss | None = None
        self.metrics: list[Metric] = []
        self.clip_grad_norm: float | None = None
        self.stop_training = False
        self.history: History | None = None
        self.task: str | None = None
        self.input_shape: tuple[int, ...] | None = None
        self._compile_config: dict[str, Any] | None = None
        self.fit_defaults: dict[str, Any] = {}
        self._plastic_state: dict[str, dict[str, torch.Tensor]] = {}  # shared rule state of Plastic layers
        if architecture is not None and "n_in" in architecture.get("config", {}):
            self.input_shape = (int(architecture["config"]["n_in"]),)

    # ------------------------------------------------------------------ compile

    def compile(self, optimizer: OptimizerLike = "adam", loss: LossLike = "cross_entropy",
                metrics: Sequence[MetricLike] | None = None, *, lr: float | None = None,
                clip_grad_norm: float | None = None, loss_options: dict[str, Any] | None = None,
                **optimizer_options: Any) -> "Model":
        """Choose optimizer, loss and metrics.

        Args:
            optimizer: a name (``"adam"``, ``"adamw"``, ``"sgd"``, ``"rmsprop"``, ``"adagrad"``:
                Keras defaults, e.g. Adam ``lr=1e-3, eps=1e-7``), a ``torch.optim.Optimizer``
                class, an instance built on this model's parameters, or a factory
                ``fn(params) -> Optimizer``.
            loss: a name from :data:`~neuroplastic.training.losses.LOSSES`, a ``Loss`` or a
                callable ``fn(output, target) -> scalar``.
            metrics: names (``"accuracy"``, ``"mse"``, ...), ``Metric`` objects or callables.
            lr: learning rate (overrides the default of a named or class optimizer, or sets it
                on an instance).
            clip_grad_norm: clip the global gradient norm to this value (None: no clipping).
            loss_options: keyword arguments for a named loss (e.g. ``{"readout": "mean"}``).
            optimizer_options: extra keyword arguments for a named or class optimizer
                (``weight_decay=...``, ``momentum=...``).

        Returns:
            self.
        """
        self.optimizer, opt_name = make_optimizer(optimizer, self.module, lr, optimizer_options)
        self.loss = get_loss(loss, **(loss_options or {}))
        self.metrics = [get_metric(m) for m in (metrics or [])]
        names = [m.name for m in self.metrics]
        if len(set(names)) != len(names):
            raise ValueError(f"metric names must be unique, got {names}")
        self.clip_grad_norm = None if clip_grad_norm is None else float(clip_grad_norm)
        self.task = None if self.loss.task == "auto" else self.loss.task
        # What get_config can store: only names and JSON-able options round-trip.
        named = self.loss.name in LOSSES and type(self.loss) is LOSSES[self.loss.name][0]
        loss_cfg = {"name": self.loss.name, **self.loss.get_config()} if named else None
        metric_names = [m for m in (metrics or []) if isinstance(m, str)]
        self._compile_config = {
            "optimizer": opt_name,
            "optimizer_options": {k: v for k, v in optimizer_options.items() if isinstance(v, (int, float, str, bool))},
            "lr": lr,
            "loss": loss_cfg,
            "metrics": metric_names if len(metric_names) == len(metrics or []) else None,
            "clip_grad_norm": self.clip_grad_norm,
        }
        return self

    def _require_compiled(self, what: str) -> None:
        if self.optimizer is None or self.loss is None:
            raise RuntimeError(f"call model.compile(optimizer=..., loss=...) before {what}")

    # ------------------------------------------------------------------ data

    @property
    def _dtype(self) -> torch.dtype:
        p = next(self.module.parameters(), None)
        return p.dtype if p is not None and p.is_floating_point() else torch.float32

    def _x_tensor(self, x: Any, name: str = "x") -> torch.Tensor:
        if isinstance(x, torch.Tensor):
            t = x.detach()
        else:
            arr = np.asarray(x)
            if arr.dtype == object or arr.dtype.kind in "USV":
                raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}: encode text/categories first")
            t = torch.tensor(arr)  # a copy: read-only and memory-mapped arrays are fine
        if t.is_complex():
            raise TypeError(f"{name} is complex: pass real-valued features")
        t = t.to(self._dtype)
        if t.ndim < 1 or t.shape[0] == 0:
            raise ValueError(f"{name} is empty (shape {tuple(t.shape)}): pass at least one sample")
        if t.ndim == 1:
            raise ValueError(f"{name} has shape {tuple(t.shape)}, one sample per row is expected: "
                             "reshape it with x.reshape(-1, 1) for one feature or x.reshape(1, -1) for one sample")
        check_finite(name, t, force=True)
        self._check_features(t, name)
        return t

    def _check_features(self, t: torch.Tensor, name: str) -> None:
        expected = self.input_shape
        if expected is not None and tuple(t.shape[1:]) != tuple(expected):
            got = tuple(t.shape[1:])
            what = (f"{got[0]} features" if len(got) == 1 else f"samples of shape {got}")
            want = (f"{expected[0]} features" if len(expected) == 1 else f"samples of shape {tuple(expected)}")
            raise ValueError(f"{name} has {what} but the model expects {want}: pass data with the "
                             "same columns (in the same order) as at training time")

    def _y_tensor(self, y: Any, n: int, name: str = "y") -> torch.Tensor:
        if y is None:
            raise ValueError(f"{name} is missing: pass labels/targets, or a DataLoader yielding (x, y)")
        if self.classes is not None:
            index = {c: i for i, c in enumerate(self.classes)}
            raw = np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y).reshape(-1)
            unknown = sorted({v for v in raw.tolist() if v not in index}, key=str)
            if unknown:
                raise ValueError(f"{name} holds labels {unknown[:5]} not in model.classes {self.classes[:10]}: "
                                 "add them to classes or remove those samples")
            t = torch.tensor([index[v] for v in raw.tolist()], dtype=torch.long)
        else:
            t = y.detach() if isinstance(y, torch.Tensor) else torch.tensor(np.asarray(y))
            if t.dtype == torch.bool:
                t = t.long()
        if t.shape[0] != n:
            raise ValueError(f"x has {n} samples but {name} has {t.shape[0]}: pass one label/target per sample")
        if t.is_floating_point():
            check_finite(name, t, force=True)
            if self._classifying(t) and t.ndim == 1:
                if not bool((t == t.round()).all()):
                    raise ValueError(f"{name} holds non-integer labels for a classification loss: pass class "
                                     "indices 0..C-1, or use loss='mse' for regression targets")
                t = t.long()
            else:
                t = t.to(self._dtype)
        return t

    def _classifying(self, y: torch.Tensor | None = None) -> bool:
        if self.task is not None:
            return self.task == "classification"
        return y is not None and not y.is_floating_point()

    def _data(self, x: Any, y: Any, batch_size: int | None, needs_y: bool, name: str = "x") -> _Arrays | _Loader:
        if _is_loader(x):
            if y is not None:
                raise ValueError("pass y=None with a DataLoader: it must yield (x, y) pairs itself")
            return _Loader(x, needs_y)
        bs = DEFAULT_BATCH_SIZE if batch_size is None else int(batch_size)
        if bs < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        xt = self._x_tensor(x, name)
        yt = self._y_tensor(y, xt.shape[0], "y" if name == "x" else name.replace("x", "y")) if (needs_y or y is not None) else None
        return _Arrays(xt, yt, bs)

    # ------------------------------------------------------------------ core steps

    def _forward(self, x: torch.Tensor, module: nn.Module | None = None) -> torch.Tensor:
        out = (self.module if module is None else module)(x)
        if isinstance(out, (tuple, list)):
            out = out[0]
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"the module returned {type(out).__name__}: it must return a tensor or (tensor, state)")
        return out

    def _prepare(self, data: _Arrays | _Loader, xb: Any, yb: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Validate a loader's batch (arrays were validated once) and move it to the device."""
        if isinstance(data, _Loader):
            xb = self._x_tensor(xb)
            if yb is not None:
                yb = self._y_tensor(yb, xb.shape[0])
        xb = xb.to(self.device, non_blocking=True)
        return xb, (None if yb is None else yb.to(self.device, non_blocking=True))

    def _check_labels(self, out: torch.Tensor, y: torch.Tensor) -> None:
        if not self._classifying(y) or y.is_floating_point():
            return
        assert self.loss is not None
        c = self.loss.decode(out).shape[-1] if out.ndim >= 2 else 1
        c = max(c, 2)
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= c:
            raise ValueError(f"labels must lie in 0..{c - 1} for a model with {c if c > 2 else 'a binary'} "
                             f"output, got labels in [{lo}, {hi}]: encode labels as 0..C-1 (e.g. "
                             "sklearn.preprocessing.LabelEncoder), pass classes=[...] to Model, or widen "
                             "the output layer")

    def _run_eval(self, data: _Arrays | _Loader, callbacks: CallbackList | None) -> dict[str, float]:
        assert self.loss is not None
        self.module.eval()
        total, count = 0.0, 0
        for m in self.metrics:
            m.reset()
        if callbacks is not None:
            callbacks.on_test_begin({})
        with torch.no_grad():
            for i, (xb, yb) in enumerate(data.batches()):
                if callbacks is not None:
                    callbacks.on_test_batch_begin(i, {})
                xb, yb = self._prepare(data, xb, yb)
                out = self._forward(xb)
                if i == 0 or isinstance(data, _Loader):
                    self._check_labels(out, yb)
                n = int(xb.shape[0])
                total += float(self.loss(out, yb)) * n
                count += n
                scores = self.loss.decode(out)
                for m in self.metrics:
                    m.update(scores, yb, self.loss)
                if callbacks is not None:
                    callbacks.on_test_batch_end(i, {"loss": total / count})
        logs = {"loss": total / max(count, 1), **{m.name: m.result() for m in self.metrics}}
        if callbacks is not None:
            callbacks.on_test_end(logs)
        return logs

    # ------------------------------------------------------------------ fit

    def fit(self, x: Any, y: Any = None, epochs: int = 1, batch_size: int | None = None,
            validation_data: Any = None, validation_split: float = 0.0,
            callbacks: Sequence[Callback] | None = None, verbose: int = 1, shuffle: bool = True,
            seed: int | None = None, initial_epoch: int = 0, strategy: Any = None,
            threads: int | str | None = "auto", resume: str | os.PathLike[str] | None = None,
            learning: str = "auto", augment: Any = None, warn_silent: bool = True) -> History:
        """Train for ``epochs`` passes over the data: by gradients, by the local rules of
        :class:`~neuroplastic.plasticity.Plastic` layers, or by both in the same step.

        ``fit(x, y)`` minimises the compiled loss; the rules of ``Plastic`` layers run in the same
        steps (``"grad"`` layers through ``weight.grad`` before the optimizer step, ``"inplace"``
        layers right after it; order and details in :mod:`neuroplastic.training._plastic`).
        ``fit(x)`` without labels trains only the ``Plastic`` layers and needs no ``compile``.
        Callbacks, the progress bar, ``ModelCheckpoint``, ``strategy`` and ``resume`` work alike
        in every mode; without labels the logs hold ``weight_change`` (the norm of the rules'
        update, averaged over the samples) instead of ``loss``.

        Phases in sequence (unsupervised features, then a readout, then fine-tuning)::

            model = Model(Sequential(Plastic(Dense(64, 32, bias=False), "oja", lr=0.01),
                                     Dense(32, 10)))
            model.compile("adam", "cross_entropy")
            model.fit(x, epochs=5)                      # 1. the Oja layer learns, nothing else
            model.freeze(Plastic)                       # 2. features fixed: only the readout
            model.fit(x, y, epochs=10, learning="grad")
            model.unfreeze()                            # 3. everything by gradients
            model.fit(x, y, epochs=5, learning="grad")

        Args:
            x: features ``[N, ...]`` (NumPy array, tensor, nested list) or a ``DataLoader``
                yielding ``(x, y)`` batches (then ``y`` is None and ``batch_size``/``shuffle``
                are the loader's business; with ``learning="auto"`` an uncompiled model with
                ``Plastic`` layers treats a loader as unlabelled).
            y: labels ``0..C-1`` (or ``model.classes`` values), one-hot/probability targets, or
                regression targets; None to train only the ``Plastic`` layers.
            epochs: index of the last epoch (trains epochs ``initial_epoch .. epochs-1``).
            batch_size: samples per step (default 32).
            validation_data: ``(x_val, y_val)`` or a ``DataLoader``; evaluated after each epoch
                and logged as ``val_loss``, ``val_<metric>``.
            validation_split: fraction of ``x, y`` held out for validation, taken from the end
                before shuffling (as Keras does). Ignored if ``validation_data`` is given.
            callbacks: :class:`Callback` objects.
            verbose: 0 silent, 1 progress bar per epoch, 2 one line per epoch.
            shuffle: reshuffle the training samples every epoch.
            seed: seeds Python/NumPy/torch (dropout) and the shuffling generator, so the same
                seed gives the same numbers on CPU.
            initial_epoch: epoch to start from (to resume). resume: a checkpoint folder saved with optimizer state
                (``ModelCheckpoint``, ``save(path, include_optimizer=True)``): continue it exactly (``_resume``).
            strategy: None (this process), ``"ddp"``, ``"auto"`` or a
                :class:`neuroplastic.distributed.DDPStrategy`: data-parallel training over the
                processes of a ``torchrun`` launch; ``batch_size`` is then per process (see
                docs/distributed.md).
            threads: torch CPU threads while training: ``"auto"`` trains a model of fewer than
                :data:`~neuroplastic._core.threads.SMALL_MODEL_PARAMS` (200,000) parameters on one thread (its steps are too
                small to split, and when another process keeps a core busy, threads that wait for
                each other made a 19,000-parameter spiking net train 12x slower: 9.6 s against
                0.8 s), larger models with torch's setting; a number sets it for the call; None
                leaves torch's setting. Restored afterwards either way.

            learning: ``"auto"`` (``fit(x)``: ``"plastic"``; ``fit(x, y)``: ``"both"``, or
                ``"grad"`` when there is no ``Plastic`` layer), ``"plastic"`` (rules only),
                ``"grad"`` (gradients only: the rules are off and ``Plastic`` weights train like
                any other unfrozen weight) or ``"both"``. Frozen parameters (:meth:`freeze`)
                get no gradients; the rules of frozen ``Plastic`` layers still run.
            augment: an :class:`~neuroplastic.training.augment.Augment` (or any callable
                ``batch -> batch``) applied to every training batch just before the forward pass
                (never to validation data), in every learning mode. An ``Augment`` is reseeded
                from its seed and the epoch at the start of each epoch, so the same seed gives the
                same batches and a resumed run sees what the uninterrupted one saw.
            warn_silent: add a :class:`~neuroplastic.training.silence.SilenceWarning` callback
                (unless one is given) that warns when a spiking layer emits no spike for a whole
                epoch, naming the fix.

        Returns:
            The :class:`History`; ``history.history`` maps ``loss``, metrics and ``val_*`` (and
            ``weight_change`` when rules run) to per-epoch lists.
        """
        with cpu_threads(threads_for(self.count_params(), threads)):
            return run_fit(self, x, y, epochs, batch_size, validation_data, validation_split, callbacks, verbose,
                           shuffle, seed, initial_epoch, strategy, resume, learning, augment, warn_silent)

    def freeze(self, *layers: Any) -> list[str]:
        """Stop gradient training of ``layers`` (modules of the model, their names in
        ``model.module.named_modules()``, or a class such as ``Plastic``; none: everything).

        Frozen parameters get no gradient (``requires_grad=False``); the rules of frozen
        ``Plastic`` layers still run when ``fit``'s ``learning`` includes them. Freeze after
        ``compile`` (the optimizer skips parameters without gradients) or compile again after
        :meth:`unfreeze`. Returns the names of the parameters changed.
        """
        return _plastic.set_trainable(self.module, layers, False)

    def unfreeze(self, *layers: Any) -> list[str]:
        """Undo :meth:`freeze` for ``layers`` (none: everything); returns the parameters changed."""
        return _plastic.set_trainable(self.module, layers, True)

    # ------------------------------------------------------------------ evaluate / predict

    def evaluate(self, x: Any, y: Any = None, batch_size: int | None = None, verbose: int = 0,
                 callbacks: Sequence[Callback] | None = None) -> dict[str, float]:
        """Loss and metrics over ``x, y`` (exact batch-size-weighted means) as a dict."""
        self._require_compiled("evaluate")
        data = self._data(x, y, batch_size, needs_y=True)
        cb = CallbackList(callbacks, self, {"verbose": verbose, "steps": data.n_batches()})
        logs = self._run_eval(data, cb)
        if verbose:
            from neuroplastic.training.history import format_logs

            print(format_logs(logs), flush=True)
        return logs

    def predict_outputs(self, x: Any, batch_size: int | None = None,
                        callbacks: Sequence[Callback] | None = None) -> torch.Tensor:
        """Raw module outputs for ``x`` (``[N, C]`` or time-first ``[T, N, C]``), on CPU."""
        data = self._data(x, None, batch_size, needs_y=False)
        cb = CallbackList(callbacks, self, {"steps": data.n_batches()})
        self.module.eval()
        outs = []
        cb.on_predict_begin({})
        with torch.no_grad():
            for i, (xb, _) in enumerate(data.batches()):
                cb.on_predict_batch_begin(i, {})
                xb, _ = self._prepare(data, xb, None)
                out = self._forward(xb)
                outs.append(out.cpu())
                cb.on_predict_batch_end(i, {"outputs": out})
        cb.on_predict_end({})
        batch_dim = 1 if outs[0].ndim >= 3 else 0
        return torch.cat(outs, dim=batch_dim)

    def decision_function(self, x: Any, batch_size: int | None = None) -> np.ndarray:
        """Decoded scores ``[N, C]`` (the loss's readout; argmax is the predicted class)."""
        self._require_compiled("decision_function")
        assert self.loss is not None
        return self.loss.decode(self.predict_outputs(x, batch_size)).numpy()

    def predict_proba(self, x: Any, batch_size: int | None = None) -> np.ndarray:
        """Class probabilities ``[N, C]`` (softmax of the scores for cross-entropy losses)."""
        self._require_compiled("predict_proba")
        assert self.loss is not None
        scores = self.loss.decode(self.predict_outputs(x, batch_size))
        return self.loss.probabilities(scores).numpy()

    def predict(self, x: Any, batch_size: int | None = None) -> np.ndarray:
        """Predicted class labels ``[N]`` for classification (mapped through ``classes``),
        decoded outputs for regression, raw outputs for an uncompiled model."""
        out = self.predict_outputs(x, batch_size)
        if self.loss is None:
            return out.numpy()
        scores = self.loss.decode(out)
        if self.task == "regression":
            return scores.numpy()
        idx = self.loss.predict_labels(scores).numpy()
        if self.classes is not None:
            return np.asarray(self.classes)[idx]
        return idx

    # ------------------------------------------------------------------ weights, save/load

    def count_params(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.module.parameters() if p.requires_grad)

    def get_weights(self) -> dict[str, torch.Tensor]:
        """A detached copy of the module's ``state_dict``."""
        return {k: v.detach().clone() for k, v in self.module.state_dict().items()}

    def set_weights(self, weights: dict[str, torch.Tensor]) -> None:
        """Load a ``state_dict`` (e.g. from :meth:`get_weights`) into the module."""
        self.module.load_state_dict(weights)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor], strict: bool = True) -> Any:
        return self.module.load_state_dict(state, strict=strict)

    def get_config(self) -> dict[str, Any]:
        """JSON-able description rebuilding this model (architecture, classes, compile settings).

        A module built by a registered architecture is stored by name and config; a hand-built one
        (``Sequential`` of library layers) as a layer spec (:mod:`neuroplastic.training._layers`).

        Raises:
            CheckpointError: a hand-built module holds a layer the spec cannot rebuild.
        """
        module_spec = _layers.spec_of(self.module) if self.architecture is None else None
        classes = self.classes
        if classes is not None:
            classes = [c.item() if hasattr(c, "item") else c for c in classes]
        return {
            "architecture": copy.deepcopy(self.architecture),
            **({"module": module_spec} if module_spec is not None else {}),
            "device": self.device_setting,
            "classes": classes,
            "task": self.task,
            "input_shape": None if self.input_shape is None else list(self.input_shape),
            "compile": self._compile_config,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Model":
        arch = config.get("architecture")
        if arch is None and config.get("module") is None:
            raise CheckpointError("the Model config names neither an architecture nor a layer spec: it was edited")
        module = _layers.build_layers(config["module"]) if arch is None else build(arch["name"], **arch.get("config", {}))
        device = config.get("device", "auto")
        if device != "auto" and torch.device(device).type == "cuda" and not torch.cuda.is_available():
            device = "cpu"
        model = cls(module, device=device, classes=config.get("classes"), architecture=arch)
        comp = config.get("compile")
        if comp and comp.get("optimizer") and comp.get("loss"):
            loss_cfg = dict(comp["loss"])
            loss_name = loss_cfg.pop("name")
            model.compile(comp["optimizer"], loss_name, comp.get("metrics") or [], lr=comp.get("lr"),
                          clip_grad_norm=comp.get("clip_grad_norm"), loss_options=loss_cfg,
                          **comp.get("optimizer_options", {}))
        model.task = config.get("task", model.task)
        if config.get("input_shape") is not None:
            model.input_shape = tuple(config["input_shape"])
        return model

    def save(self, path: str | os.PathLike[str], *, extra: dict[str, Any] | None = None, **options: Any) -> Any:
        """Save to the checkpoint folder ``path`` (atomic); ``include_optimizer=True`` adds what an exact resume needs."""
        return _resume.save(self, path, extra=extra, **options)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, map_location: str | torch.device | None = "cpu") -> "Model":
        """Load a model saved with :meth:`save` (with the optimizer state if it was saved; see ``_resume``)."""
        obj = _resume.load(path, map_location=map_location)
        if not isinstance(obj, cls):
            raise CheckpointError(f"{path} holds a {type(obj).__name__}, not a Model: load it with neuroplastic.io.load")
        return obj

    def summary(self) -> str:
        """One line per child module with its parameter count (also printed)."""
        lines = [f"Model on {self.device}"]
        for name, child in self.module.named_children():
            n = sum(p.numel() for p in child.parameters())
            lines.append(f"  {name:>4}  {child!r:<70.70}  {n:>9,d}")
        lines.append(f"Trainable params: {self.count_params():,d}")
        text = "\n".join(lines)
        print(text)
        return text

    def __repr__(self) -> str:
        arch = self.architecture["name"] if self.architecture else type(self.module).__name__
        return f"Model({arch}, loss={self.loss!r}, device={self.device})"
