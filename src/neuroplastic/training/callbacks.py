"""Keras-style callbacks: early stopping, checkpoints, CSV/TensorBoard/W&B logging, schedules.

All use Keras' hook names (see :mod:`neuroplastic.training.history`). Monitored values come from
the epoch logs: ``loss``, the metric names and their ``val_`` versions.

Example:
    >>> import numpy as np
    >>> from torch import nn
    >>> from neuroplastic.training import Model
    >>> x = np.random.default_rng(0).normal(size=(40, 2)).astype("float32"); y = (x[:, 0] > 0).astype("int64")
    >>> m = Model(nn.Linear(2, 2), device="cpu").compile("sgd", "ce", lr=0.0)  # lr 0: loss never improves
    >>> h = m.fit(x, y, epochs=10, verbose=0, callbacks=[EarlyStopping("loss", min_delta=1e-6, patience=2)])
    >>> len(h.epoch)
    3
"""
from __future__ import annotations

import csv
import math
import os
import re
import warnings
from pathlib import Path
from typing import Any, Callable

from neuroplastic.training.history import Callback, CallbackList, History, ProgbarLogger

__all__ = [
    "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History", "LambdaCallback",
    "LearningRateScheduler", "ModelCheckpoint", "ProgbarLogger", "ReduceLROnPlateau", "TensorBoard",
    "TerminateOnNaN", "WandbCallback",
]


def _monitor_op(monitor: str, mode: str) -> Callable[[float, float], bool]:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        name = monitor.removeprefix("val_")
        mode = "max" if ("acc" in name or name in ("auc", "f1", "precision", "recall")) else "min"
    return (lambda a, b: a > b) if mode == "max" else (lambda a, b: a < b)


class _Monitor(Callback):
    """Shared logic: is ``current`` better than ``reference`` by more than ``min_delta``."""

    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0) -> None:
        super().__init__()
        self.monitor = monitor
        self.monitor_op = _monitor_op(monitor, mode)
        self.min_delta = abs(float(min_delta))

    def _better(self, current: float, reference: float | None) -> bool:
        if reference is None:
            return True
        if self.monitor_op(1.0, 0.0):  # maximising
            return current - self.min_delta > reference
        return current + self.min_delta < reference

    def _value(self, logs: dict | None) -> float | None:
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"{type(self).__name__}: {self.monitor!r} is not in the logs (available: "
                          f"{sorted(logs or {})}); pass one of them as monitor=", RuntimeWarning, stacklevel=3)
        return value


class EarlyStopping(_Monitor):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs (Keras semantics).

    An epoch improves when it beats the best value so far by more than ``min_delta``. After
    ``patience`` epochs without improvement ``model.stop_training`` is set.

    Args:
        monitor: log key, e.g. ``"val_loss"``.
        min_delta: smallest change that counts as an improvement.
        patience: epochs without improvement before stopping.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (max for accuracies, min otherwise).
        baseline: training stops unless the monitored value beats this within ``patience`` epochs.
        restore_best_weights: at the end of training, load the weights of the best epoch.
        start_from_epoch: epochs to wait before monitoring (warm-up).
        verbose: print when stopping/restoring.

    Attributes:
        stopped_epoch: epoch index at which training stopped (0 if it did not).
        best_epoch: epoch index of the best value; ``best``: that value.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, mode: str = "auto",
                 baseline: float | None = None, restore_best_weights: bool = False, start_from_epoch: int = 0,
                 verbose: int = 0) -> None:
        super().__init__(monitor, mode, min_delta)
        if int(patience) < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        self.patience, self.baseline, self.verbose = int(patience), baseline, verbose
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, int(start_from_epoch)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best: float | None = None
        self.best_weights: dict | None = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        current = self._value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._better(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._better(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(_Monitor):
    """Save the model after epochs with :func:`neuroplastic.io.save` (atomic directory checkpoints).

    Args:
        filepath: checkpoint directory; may hold ``str.format`` fields filled from the epoch
            (1-based, as in Keras) and the logs, e.g. ``"ckpt/epoch{epoch:02d}-{val_loss:.3f}"``.
        monitor: log key deciding what "best" is.
        save_best_only: only save when ``monitor`` improves (the latest best overwrites the path
            unless the path has format fields).
        save_weights_only: write only the module's ``state_dict`` as ``<filepath>.safetensors``
            (works for any module; load it with ``safetensors.torch.load_file``).
        mode: ``"min"``, ``"max"`` or ``"auto"``.
        verbose: print each save.
        include_optimizer: also save the optimizer state, the random states and the fit settings,
            so ``model.fit(..., resume=path)`` continues bit for bit where this epoch ended
            (see :mod:`neuroplastic.training._resume`).

    The epoch (0-based) and logs are stored in the checkpoint's ``extra`` (read them with
    :func:`neuroplastic.io.load_config`). A model wrapping a custom module needs
    ``save_weights_only=True``.
    """

    def __init__(self, filepath: str | os.PathLike[str], monitor: str = "val_loss", save_best_only: bool = False,
                 save_weights_only: bool = False, mode: str = "auto", verbose: int = 0,
                 include_optimizer: bool = True) -> None:
        super().__init__(monitor, mode)
        self.include_optimizer = bool(include_optimizer)
        self.filepath = os.fspath(filepath)
        self.save_best_only, self.save_weights_only, self.verbose = save_best_only, save_weights_only, verbose
        self.best: float | None = None
        self.saved: list[Path] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.save_weights_only or getattr(self.model, "architecture", None) is not None:
            return
        from neuroplastic.io import CheckpointError

        try:  # a hand-built Sequential of library layers describes itself (training._layers); others cannot
            self.model.get_config()
        except CheckpointError as e:
            raise ValueError(f"ModelCheckpoint cannot save this Model: {e}. Pass save_weights_only=True to keep "
                             "only the weights") from e

    def _path(self, epoch: int, logs: dict) -> Path:
        try:
            return Path(self.filepath.format(epoch=epoch + 1, **logs))
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint filepath {self.filepath!r} uses {e}, which is not in the logs "
                           f"{sorted(logs)}") from None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = dict(logs or {})
        if self.save_best_only:
            current = self._value(logs)
            if current is None or (isinstance(current, float) and math.isnan(current)):
                return
            if not self._better(current, self.best):
                return
            if self.verbose:
                print(f"Epoch {epoch + 1}: {self.monitor} improved from {self.best} to {current}, saving")
            self.best = current
        path = self._path(epoch, logs)
        if self.save_weights_only:
            self._save_weights(path)
        else:
            from neuroplastic.io import save

            save(self.model, path, extra={"epoch": epoch, "logs": {k: float(v) for k, v in logs.items()}},
                 include_optimizer=self.include_optimizer, epoch=epoch)
        self.saved.append(path)
        if self.verbose and not self.save_best_only:
            print(f"Epoch {epoch + 1}: saved {path}")

    def _save_weights(self, path: Path) -> None:
        import safetensors.torch

        from neuroplastic._core.atomic import atomic_path
        from neuroplastic.io._fs import umask_mode

        target = path if path.suffix == ".safetensors" else path.with_name(path.name + ".safetensors")
        state = {k: v.detach().cpu().contiguous().clone() for k, v in self.model.module.state_dict().items()}
        with atomic_path(target) as tmp:  # fsynced, then renamed over the target
            safetensors.torch.save_file(state, str(tmp))
            os.chmod(tmp, umask_mode())  # like any file the process creates (mkstemp and safetensors give 0600)


class CSVLogger(Callback):
    """Append one CSV row per epoch (``epoch`` then the sorted log keys); the file is flushed each row.

    Args:
        filename: CSV path (parent directories are created).
        separator: field separator.
        append: append to an existing file (the header is written only if the file is empty).
    """

    def __init__(self, filename: str | os.PathLike[str], separator: str = ",", append: bool = False) -> None:
        super().__init__()
        self.filename, self.sep, self.append = Path(filename), separator, append
        self._file: Any = None
        self._writer: Any = None
        self._keys: list[str] | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.filename.parent.mkdir(parents=True, exist_ok=True)
        has_rows = self.append and self.filename.exists() and self.filename.stat().st_size > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="", encoding="utf-8")
        self._keys = None
        if has_rows:
            with open(self.filename, encoding="utf-8") as f:
                header = f.readline().strip()
            self._keys = header.split(self.sep)[1:] if header else None
        self._writer = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if self._keys is None:
            self._keys = sorted(logs)
            csv.writer(self._file, delimiter=self.sep).writerow(["epoch", *self._keys])
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch", *self._keys], delimiter=self.sep,
                                          extrasaction="ignore", restval="")
        self._writer.writerow({"epoch": epoch, **{k: logs.get(k, "") for k in self._keys}})
        self._file.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``.

    Keyword arguments are hook names (``on_train_begin``, ``on_epoch_end``,
    ``on_train_batch_end``, ...) mapped to functions with that hook's arguments.
    """

    def __init__(self, **hooks: Callable[..., Any]) -> None:
        super().__init__()
        for name, fn in hooks.items():
            if not name.startswith("on_") or not hasattr(Callback, name):
                raise TypeError(f"LambdaCallback got unknown hook {name!r}: use Keras hook names like on_epoch_end")
            if not callable(fn):
                raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
            setattr(self, name, fn)


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch loss is NaN or infinite."""

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: invalid loss {loss}, terminating training")
            self.model.stop_training = True


def _set_lr(model: Any, lr: float) -> None:
    for g in model.optimizer.param_groups:
        g["lr"] = float(lr)


def _get_lr(model: Any) -> float:
    return float(model.optimizer.param_groups[0]["lr"])


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch to ``schedule(epoch, lr)``.

    ``cosine(epochs, lr0)`` gives a ready cosine decay: ``LearningRateScheduler(cosine(40, 2e-3))``.
    The rate used is logged as ``lr``.
    """

    def __init__(self, schedule: Callable[[int, float], float], verbose: int = 0) -> None:
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        lr = float(self.schedule(epoch, _get_lr(self.model)))
        if not math.isfinite(lr) or lr < 0:
            raise ValueError(f"the schedule returned learning rate {lr} at epoch {epoch}: it must be finite and >= 0")
        _set_lr(self.model, lr)
        if self.verbose:
            print(f"Epoch {epoch + 1}: learning rate {lr:.3g}")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["lr"] = _get_lr(self.model)


class CosineSchedule:
    r"""Cosine decay :math:`\eta_e = \eta_{min} + \frac12(\eta_0 - \eta_{min})(1 + \cos(\pi e / E))`."""

    def __init__(self, epochs: int, lr0: float, lr_min: float = 0.0) -> None:
        self.epochs, self.lr0, self.lr_min = max(int(epochs), 1), float(lr0), float(lr_min)

    def __call__(self, epoch: int, lr: float) -> float:
        return self.lr_min + 0.5 * (self.lr0 - self.lr_min) * (1 + math.cos(math.pi * min(epoch, self.epochs) / self.epochs))


def cosine(epochs: int, lr0: float, lr_min: float = 0.0) -> CosineSchedule:
    """A picklable cosine schedule for :class:`LearningRateScheduler`."""
    return CosineSchedule(epochs, lr0, lr_min)


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without improvement."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, mode: str = "auto",
                 min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0, verbose: int = 0) -> None:
        super().__init__(monitor, mode, min_delta)
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must be in (0, 1), got {factor}")
        self.factor, self.patience, self.cooldown, self.min_lr = factor, int(patience), int(cooldown), min_lr
        self.verbose = verbose

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.best, self.wait, self.cooldown_counter = None, 0, 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        current = self._value(logs)
        if logs is not None:
            logs["lr"] = _get_lr(self.model)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._better(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = _get_lr(self.model)
                new = max(old * self.factor, self.min_lr)
                if new < old:
                    _set_lr(self.model, new)
                    if self.verbose:
                        print(f"Epoch {epoch + 1}: reducing learning rate to {new:.3g}")
                self.cooldown_counter, self.wait = self.cooldown, 0


def _safe_tag(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_./-]", "_", name)


class TensorBoard(Callback):
    """Write epoch logs as TensorBoard scalars (``torch.utils.tensorboard``; needs ``tensorboard``).

    Training values go to ``log_dir/train`` and validation values to ``log_dir/validation``,
    both under the tag ``epoch_<name>`` (as Keras does), so TensorBoard overlays the two curves.
    With ``update_freq="batch"`` batch losses are written too (``batch_<name>``).

    Raises:
        ImportError: ``tensorboard`` is not installed (``pip install neuroplastic[tensorboard]``).
    """

    def __init__(self, log_dir: str | os.PathLike[str] = "logs", update_freq: str = "epoch") -> None:
        super().__init__()
        try:
            from torch.utils.tensorboard import SummaryWriter  # noqa: F401  (imports tensorboard)
        except ImportError as e:
            raise ImportError("the TensorBoard callback needs the tensorboard package: "
                              "pip install neuroplastic[tensorboard]") from e
        if update_freq not in ("epoch", "batch"):
            raise ValueError(f"update_freq must be 'epoch' or 'batch', got {update_freq!r}")
        self.log_dir, self.update_freq = Path(log_dir), update_freq
        self._writers: dict[str, Any] = {}
        self._step = 0

    def _writer(self, split: str) -> Any:
        if split not in self._writers:
            from torch.utils.tensorboard import SummaryWriter

            self._writers[split] = SummaryWriter(log_dir=str(self.log_dir / split))
        return self._writers[split]

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._step += 1
        if self.update_freq == "batch":
            for k, v in (logs or {}).items():
                self._writer("train").add_scalar(f"batch_{_safe_tag(k)}", float(v), self._step)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for k, v in (logs or {}).items():
            if not isinstance(v, (int, float)):
                continue
            split, name = ("validation", k[4:]) if k.startswith("val_") else ("train", k)
            self._writer(split).add_scalar(f"epoch_{_safe_tag(name)}", float(v), epoch)
        for w in self._writers.values():
            w.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        for w in self._writers.values():
            w.close()
        self._writers = {}


class WandbCallback(Callback):
    """Log epoch values to Weights & Biases (needs ``wandb``); offline by default.

    A run is started in ``on_train_begin`` (``wandb.init(project=..., mode=..., dir=...)``) and
    finished in ``on_train_end``. Offline runs are written under ``dir`` and can be uploaded later
    with ``wandb sync``. ``config`` (e.g. hyper-parameters) is stored with the run.

    Raises:
        ImportError: ``wandb`` is not installed (``pip install neuroplastic[wandb]``).
    """

    def __init__(self, project: str | None = None, mode: str = "offline", dir: str | os.PathLike[str] | None = None,
                 name: str | None = None, config: dict[str, Any] | None = None, log_batches: bool = False) -> None:
        super().__init__()
        try:
            import wandb  # noqa: F401
        except ImportError as e:
            raise ImportError("the WandbCallback needs the wandb package: pip install neuroplastic[wandb]") from e
        if mode not in ("offline", "online", "disabled"):
            raise ValueError(f"mode must be 'offline', 'online' or 'disabled', got {mode!r}")
        self.project, self.mode, self.name, self.config = project, mode, name, dict(config or {})
        self.dir = None if dir is None else Path(dir)
        self.log_batches = log_batches
        self.run: Any = None
        self._step = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        import wandb

        if self.dir is not None:
            self.dir.mkdir(parents=True, exist_ok=True)
        config = {**self.config, **{k: v for k, v in self.params.items() if isinstance(v, (int, float, str))}}
        self.run = wandb.init(project=self.project, mode=self.mode, dir=None if self.dir is None else str(self.dir),
                              name=self.name, config=config, reinit="finish_previous")
        self._step = 0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._step += 1
        if self.log_batches and self.run is not None:
            self.run.log({f"batch/{k}": float(v) for k, v in (logs or {}).items()}, step=self._step)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.run is not None:
            self.run.log({"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}}, step=self._step)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None
