"""``SilenceWarning``: warn when a spiking layer emits no spike during a whole training epoch.

A layer that never spikes passes nothing on and gets no surrogate gradient worth the name (the
threshold is never approached), so training stalls without an error. The usual causes: a
threshold too high for the currents the layer gets (a ``Dense`` of standardised inputs gives
currents of standard deviation about 0.6), input scaled down too much (``r``), or too few time
steps for the membrane to charge (about ``tau_mem / dt`` steps).

The callback hooks the forward pass of every spiking layer of ``model.module`` while training
(LIF, adaptive LIF, IF, CUBA LIF, Izhikevich, their cells, ``RecurrentLIF``, and any module with
``spiking = True``), sums its output on the device (no host synchronisation per batch) and reads
the sums once at the end of each epoch.

Example:
    >>> import warnings
    >>> import torch
    >>> from neuroplastic.network import Sequential
    >>> from neuroplastic.neurons import LIF
    >>> from neuroplastic.synapses import Dense
    >>> from neuroplastic.training.silence import SilenceWarning
    >>> cb = SilenceWarning()
    >>> cb.watch(Sequential(Dense(3, 2), LIF(v_th=1e6)))
    >>> cb.on_epoch_begin(0)
    >>> _ = cb.module(torch.ones(4, 1, 3))
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     cb.on_epoch_end(0)
    >>> "layer 1 (LIF) emitted no spike" in str(w[0].message)
    True
"""
from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from neuroplastic.neurons.alif import ALIF, ALIFCell
from neuroplastic.neurons.cuba_lif import CubaLIF, CubaLIFCell
from neuroplastic.neurons.izhikevich import Izhikevich, IzhikevichCell
from neuroplastic.neurons.lif import LIF, LIFCell
from neuroplastic.synapses.recurrent import RecurrentLIF
from neuroplastic.training.history import Callback

SPIKING_TYPES: tuple[type, ...] = (LIF, LIFCell, ALIF, ALIFCell, CubaLIF, CubaLIFCell, Izhikevich, IzhikevichCell,
                                   RecurrentLIF)  # IF and IFCell are LIF subclasses


class SilentLayerWarning(UserWarning):
    """A spiking layer emitted no spike during a training epoch."""


def is_spiking(module: nn.Module) -> bool:
    """Whether ``module`` emits spikes (a spiking neuron type, or ``spiking = True``)."""
    flag = getattr(module, "spiking", None)
    if flag is not None:
        return bool(flag)
    return isinstance(module, SPIKING_TYPES)


class SilenceWarning(Callback):
    """Warn (:class:`SilentLayerWarning`) when a spiking layer stays silent a whole training epoch.

    Args:
        once: warn at most once per layer per ``fit`` (default), else after every silent epoch.

    After ``fit``, ``silent_`` maps each layer name to the epochs in which it was silent.
    """

    def __init__(self, once: bool = True) -> None:
        super().__init__()
        self.once = once
        self.module: nn.Module | None = None
        self._hooks: list[Any] = []
        self._counts: dict[str, torch.Tensor | None] = {}
        self._warned: set[str] = set()
        self.silent_: dict[str, list[int]] = {}

    # -------------------------------------------------------------------------- hooks
    def watch(self, module: nn.Module) -> None:
        """Hook every spiking layer of ``module`` (done by ``on_train_begin`` for ``model.module``)."""
        self._unhook()
        self.module = module
        self._warned, self.silent_ = set(), {}
        for name, layer in module.named_modules():
            if name and is_spiking(layer):
                self._counts[name] = None
                self._hooks.append(layer.register_forward_hook(self._counter(name)))

    def _counter(self, name: str):
        def hook(layer: nn.Module, args: Any, out: Any) -> None:
            if not layer.training:  # validation and predict passes do not count
                return
            y = out[0] if isinstance(out, tuple) else out
            if isinstance(y, torch.Tensor):
                total = y.detach().sum()
                prev = self._counts.get(name)
                self._counts[name] = total if prev is None else prev + total

        return hook

    def _unhook(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks, self._counts = [], {}

    # ---------------------------------------------------------------------- callbacks
    def on_train_begin(self, logs: dict | None = None) -> None:
        module = getattr(self.model, "module", self.model)
        if isinstance(module, nn.Module):
            self.watch(module)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._counts = dict.fromkeys(self._counts)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for name, total in self._counts.items():
            if total is None or float(total) != 0.0:  # not run this epoch, or it spiked
                continue
            self.silent_.setdefault(name, []).append(epoch)
            if self.once and name in self._warned:
                continue
            self._warned.add(name)
            layer = self.module.get_submodule(name) if self.module is not None else None
            params = getattr(layer, "params", None)
            v_th = getattr(params, "v_th", None)
            hint = f" (v_th={v_th})" if isinstance(v_th, (int, float)) else ""
            warnings.warn(
                f"spiking layer {name} ({type(layer).__name__}) emitted no spike during epoch {epoch}{hint}: its "
                "membrane never reached the threshold, so it passes nothing on and learns nothing; lower v_th, raise "
                "r or the input scale, use more time steps, or check the layer before it",
                SilentLayerWarning, stacklevel=2)

    def on_train_end(self, logs: dict | None = None) -> None:
        self._unhook()
