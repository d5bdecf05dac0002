"""Event readers: SHD HDF5 round trip (h5py optional), binning against hand-placed spikes,
tonic-style structured arrays, errors that name the fix."""
from __future__ import annotations

import builtins

import numpy as np
import pytest
import torch

from neuroplastic.datasets.events import SpikeEvents, bin_spikes, bin_structured, read_shd, write_shd


def _sample_trains():
    times = [np.array([0.0, 0.0105, 0.0105, 0.049]), np.array([0.002, 0.031])]
    units = [np.array([3, 0, 0, 699]), np.array([5, 5])]
    return times, units, [7, 2]


def test_bin_spikes_hand_computed():
    times, units, _ = _sample_trains()
    x, mask = bin_spikes(times, units, 700, dt=0.01)
    assert x.shape == (5, 2, 700)
    assert x[0, 0, 3] == 1 and x[1, 0, 0] == 2 and x[4, 0, 699] == 1 and x[0, 1, 5] == 1 and x[3, 1, 5] == 1
    assert x.sum() == 6
    assert mask[:, 0].all() and mask[:, 1].tolist() == [True, True, True, True, False]
    xb, _ = bin_spikes(times, units, 700, dt=0.01, binary=True)
    assert xb.max() == 1 and xb.sum() == 5
    xc, mc = bin_spikes(times, units, 700, dt=0.01, n_steps=2)
    assert xc.shape[0] == 2 and xc.sum() == 4 and mc.all()


def test_bin_spikes_errors():
    with pytest.raises(ValueError, match="n_units"):
        bin_spikes([np.array([0.1])], [np.array([700])], 700, dt=0.01)
    with pytest.raises(ValueError, match="equal length"):
        bin_spikes([np.array([0.1, 0.2])], [np.array([1])], 700, dt=0.01)
    with pytest.raises(ValueError, match="dt"):
        bin_spikes([np.array([0.1])], [np.array([1])], 700, dt=0.0)


def test_shd_round_trip(tmp_path):
    pytest.importorskip("h5py")
    times, units, labels = _sample_trains()
    f = tmp_path / "shd_small.h5"
    write_shd(f, times, units, labels)
    ev = read_shd(f)
    assert isinstance(ev, SpikeEvents) and len(ev) == 2 and ev.n_units == 700
    assert ev.labels.tolist() == labels
    for a, b in zip(ev.times, times):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(ev.units, units):
        np.testing.assert_array_equal(a, b)
    x, m = ev.binned(0.01)
    x2, m2 = bin_spikes(times, units, 700, 0.01)
    assert torch.equal(x, x2) and torch.equal(m, m2)


def test_shd_layout_checked(tmp_path):
    h5py = pytest.importorskip("h5py")
    f = tmp_path / "bad.h5"
    with h5py.File(f, "w") as h:
        h.create_dataset("labels", data=np.array([1]))
    with pytest.raises(ValueError, match="spikes/times"):
        read_shd(f)
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        read_shd(tmp_path / "junk.h5")
    with pytest.raises(FileNotFoundError):
        read_shd(tmp_path / "missing.h5")


def test_missing_h5py_names_the_fix(monkeypatch, tmp_path):
    real_import = builtins.__import__

    def fake(name, *a, **k):
        if name == "h5py":
            raise ImportError("no h5py")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ImportError, match="pip install h5py"):
        read_shd(tmp_path / "x.h5")


def _dvs(events):
    return np.array(events, dtype=[("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)])


def test_structured_dvs_events_binned():
    a = _dvs([(0, 0, 0, 1), (3, 1, 999, 0), (3, 1, 1500, 1), (2, 2, 4999, 1)])
    b = _dvs([(1, 0, 10, 0)])
    frames, mask = bin_structured([a, b], sensor_size=(4, 3, 2), dt_us=1000)
    assert frames.shape == (5, 2, 2, 3, 4)
    assert frames[0, 0, 1, 0, 0] == 1 and frames[0, 0, 0, 1, 3] == 1 and frames[1, 0, 1, 1, 3] == 1
    assert frames[4, 0, 1, 2, 2] == 1 and frames[0, 1, 0, 0, 1] == 1 and frames.sum() == 5
    assert mask[:, 1].tolist() == [True, False, False, False, False]
    with pytest.raises(ValueError, match="sensor_size"):
        bin_structured([a], sensor_size=(3, 3, 2), dt_us=1000)


def test_structured_audio_events_without_y_and_signed_polarity():
    ev = np.array([(0, 5, 1), (2500, 5, -1), (2600, 1, 1)], dtype=[("t", np.int64), ("x", np.int64), ("p", np.int64)])
    frames, mask = bin_structured([ev], sensor_size=(8, 1, 2), dt_us=1000)
    assert frames.shape == (3, 1, 2, 8)
    assert frames[0, 0, 1, 5] == 1 and frames[2, 0, 0, 5] == 1 and frames[2, 0, 1, 1] == 1 and frames.sum() == 3
    with pytest.raises(ValueError, match="fields 't' and 'x'"):
        bin_structured([np.zeros(2, dtype=[("t", int)])], sensor_size=(8, 1, 2), dt_us=1000)
