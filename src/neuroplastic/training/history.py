"""Callback base class, the callback list that ``fit`` drives, ``History`` and the progress bar.

Hook names and order follow Keras: ``on_train_begin``, then per epoch ``on_epoch_begin``,
``on_train_batch_begin``/``on_train_batch_end`` per batch, the validation pass
(``on_test_begin``, ``on_test_batch_begin``/``end``, ``on_test_end``) and ``on_epoch_end``;
finally ``on_train_end``. ``evaluate`` calls the ``on_test_*`` hooks and ``predict`` the
``on_predict_*`` hooks. Every hook receives a ``logs`` dict (epoch logs hold ``loss``, the
metrics and their ``val_`` counterparts).
"""
from __future__ import annotations

import sys
import time
from typing import Any, Iterable

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "format_logs"]


class Callback:
    """Base class: override the hooks you need. ``self.model`` and ``self.params`` are set by ``fit``.

    ``params`` holds ``epochs``, ``steps`` (batches per epoch, or None), ``verbose`` and
    ``batch_size``. Set ``self.model.stop_training = True`` to stop after the current batch.
    """

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None: ...
    def on_test_begin(self, logs: dict | None = None) -> None: ...
    def on_test_end(self, logs: dict | None = None) -> None: ...
    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None: ...
    def on_predict_begin(self, logs: dict | None = None) -> None: ...
    def on_predict_end(self, logs: dict | None = None) -> None: ...
    def on_predict_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None: ...


_HOOKS = tuple(name for name in vars(Callback) if name.startswith("on_"))


class CallbackList:
    """Calls each hook on every callback in order."""

    def __init__(self, callbacks: Iterable[Callback] | None, model: Any, params: dict[str, Any]) -> None:
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"callbacks must be Callback instances, got {type(cb).__name__}: wrap functions in "
                    "LambdaCallback(on_epoch_end=...)"
                )
            cb.set_model(model)
            cb.set_params(params)

    def __getattr__(self, name: str) -> Any:
        if name not in _HOOKS:
            raise AttributeError(name)

        def call(*args: Any) -> None:
            for cb in self.callbacks:
                getattr(cb, name)(*args)

        return call


class History(Callback):
    """Records epoch logs: ``history.history["loss"]`` is a list with one value per epoch.

    Attributes:
        history: dict of lists (``loss``, metrics, ``val_*``), one entry per finished epoch.
        epoch: the epoch indices that finished.
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.epoch = []
        self.history = {}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={sorted(self.history)})"


def format_logs(logs: dict[str, Any]) -> str:
    """``"loss: 0.1234 - accuracy: 0.9500"`` for the numeric entries of ``logs``."""
    parts = []
    for k, v in logs.items():
        if isinstance(v, (int, float)) and k not in ("size", "batch"):
            parts.append(f"{k}: {v:.4g}" if abs(v) >= 1e4 or (v != 0 and abs(v) < 1e-3) else f"{k}: {v:.4f}")
    return " - ".join(parts)


class ProgbarLogger(Callback):
    """Progress reporting controlled by ``verbose``: 0 silent, 1 a tqdm bar per epoch, 2 one line per epoch.

    The bar shows the running training loss and metrics; when the epoch ends it shows the
    epoch's values including validation.
    """

    def __init__(self, verbose: int = 1, file: Any = None) -> None:
        super().__init__()
        if verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0 (silent), 1 (progress bar) or 2 (one line per epoch), got {verbose!r}")
        self.verbose = verbose
        self.file = file
        self._bar: Any = None
        self._t0 = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._t0 = time.perf_counter()
        if self.verbose == 1:
            from tqdm.auto import tqdm

            epochs = self.params.get("epochs", "?")
            self._bar = tqdm(total=self.params.get("steps"), desc=f"Epoch {epoch + 1}/{epochs}",
                             unit="batch", leave=True, file=self.file or sys.stderr, dynamic_ncols=True)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix_str(format_logs(logs or {}), refresh=False)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        text = format_logs(logs or {})
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)
            self._bar.close()
            self._bar = None
        elif self.verbose == 2:
            epochs = self.params.get("epochs", "?")
            secs = time.perf_counter() - self._t0
            print(f"Epoch {epoch + 1}/{epochs} - {secs:.1f}s - {text}", file=self.file or sys.stdout, flush=True)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._bar is not None:  # training stopped mid-epoch
            self._bar.close()
            self._bar = None
