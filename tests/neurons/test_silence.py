"""SilenceWarning: a spiking layer silent for a whole training epoch is reported (and only then)."""
from __future__ import annotations

import warnings

import numpy as np
import torch

from neuroplastic.encoding import ConstantEncoder
from neuroplastic.network import Sequential
from neuroplastic.neurons import LI, LIF
from neuroplastic.synapses import Dense
from neuroplastic.training import Model
from neuroplastic.training.silence import SilenceWarning, SilentLayerWarning, is_spiking


def _data(n: int = 32):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 5)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def _fit(net, cb, epochs: int = 2):
    model = Model(net, device="cpu").compile("adam", "cross_entropy", lr=1e-3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(*_data(), epochs=epochs, batch_size=16, callbacks=[cb], verbose=0)
    return [w for w in caught if issubclass(w.category, SilentLayerWarning)]


def test_silent_layer_is_named_once() -> None:
    torch.manual_seed(0)
    net = Sequential(ConstantEncoder(6), Dense(5, 8), LIF(), Dense(8, 4), LIF(v_th=1e6), Dense(4, 2), LI())
    cb = SilenceWarning()
    got = _fit(net, cb)
    assert len(got) == 1
    assert "spiking layer 4 (LIF) emitted no spike during epoch 0 (v_th=1000000.0)" in str(got[0].message)
    assert "lower v_th" in str(got[0].message)
    assert cb.silent_ == {"4": [0, 1]}
    assert not net[4]._forward_hooks  # hooks removed after fit


def test_firing_network_gives_no_warning_and_eval_passes_do_not_count() -> None:
    torch.manual_seed(0)
    net = Sequential(ConstantEncoder(6), Dense(5, 8), LIF(), Dense(8, 2), LI())
    assert _fit(net, SilenceWarning()) == []
    cb = SilenceWarning(once=False)
    cb.watch(Sequential(Dense(3, 2), LIF(v_th=0.01)))
    cb.on_epoch_begin(0)
    cb.module.eval()
    cb.module(torch.ones(4, 1, 3))  # spikes, but in eval mode: not counted, layer not seen
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cb.on_epoch_end(0)
    assert cb.silent_ == {}


def test_is_spiking() -> None:
    assert is_spiking(LIF()) and not is_spiking(LI()) and not is_spiking(Dense(2, 2))
    layer = LI()
    layer.spiking = True  # a custom module can declare itself spiking
    assert is_spiking(layer)
