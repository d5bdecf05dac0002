"""Event data: Spiking Heidelberg Digits HDF5 files and tonic-style structured event arrays.

- SHD / SSC layout (Cramer et al. 2020): an HDF5 file with ``spikes/times`` (one float array of
  spike times in seconds per sample), ``spikes/units`` (the matching channel indices, 0..699)
  and ``labels``. :func:`read_shd` returns :class:`SpikeEvents`; :func:`write_shd` writes the
  same layout. Reading needs ``h5py`` (optional: ``pip install h5py``); everything else here is
  numpy.
- tonic-style events: a structured numpy array per sample with fields among ``x``, ``y``,
  ``t`` (microseconds) and ``p`` (polarity), e.g. ``dtype=[("x", int), ("y", int), ("t", int),
  ("p", int)]`` for a DVS camera or ``[("t", ...), ("x", ...), ("p", ...)]`` for audio.

Both can stay events or be binned time first: :func:`bin_spikes` gives ``[T, B, units]``,
:func:`bin_structured` gives ``[T, B, P, H, W]`` (or ``[T, B, P, W]`` without ``y``), each
with a mask ``[T, B]`` that is True on the steps a sample covers.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
import torch

__all__ = ["SpikeEvents", "bin_spikes", "bin_structured", "read_shd", "write_shd"]

PathLike = Union[str, os.PathLike]


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("reading SHD/SSC HDF5 files needs h5py, which is not installed: pip install h5py") from None
    return h5py


@dataclass(frozen=True, eq=False)
class SpikeEvents:
    """Spike trains of labelled samples, kept as events.

    Attributes:
        times: per sample, float64 spike times in seconds (sorted).
        units: per sample, int64 channel indices, same length as ``times``.
        labels: int64 ``[N]``.
        n_units: number of channels.
    """

    times: tuple[np.ndarray, ...]
    units: tuple[np.ndarray, ...]
    labels: np.ndarray
    n_units: int

    def __len__(self) -> int:
        return len(self.labels)

    def binned(self, dt: float, *, n_steps: int | None = None, binary: bool = False,
               index: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Spike counts ``[T, B, n_units]`` and mask for the samples at ``index`` (all by default)."""
        idx = range(len(self)) if index is None else index
        return bin_spikes([self.times[i] for i in idx], [self.units[i] for i in idx], self.n_units, dt,
                          n_steps=n_steps, binary=binary)


def _check_pair(i: int, t: np.ndarray, u: np.ndarray, n_units: int | None) -> None:
    if t.shape != u.shape or t.ndim != 1:
        raise ValueError(f"sample {i}: times {t.shape} and units {u.shape} must be 1-D and of equal length")
    if t.size and (not np.isfinite(t).all() or t.min() < 0):
        raise ValueError(f"sample {i}: spike times must be finite and >= 0 seconds")
    if u.size and (u.min() < 0 or (n_units is not None and u.max() >= n_units)):
        raise ValueError(f"sample {i}: unit indices must lie in 0..{n_units - 1 if n_units else '?'}, "
                         f"got {u.min()}..{u.max()}: pass the right n_units")


def read_shd(path: PathLike, *, n_units: int = 700) -> SpikeEvents:
    """Read an SHD/SSC HDF5 file (``spikes/times``, ``spikes/units``, ``labels``)."""
    h5py = _h5py()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: pass the path of an SHD/SSC .h5 file (e.g. shd_train.h5)")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{path}: not a readable HDF5 file ({e}): re-download or re-export it") from None
    with f:
        missing = [k for k in ("spikes/times", "spikes/units", "labels") if k not in f]
        if missing:
            raise ValueError(f"{path}: missing {missing}: an SHD file has spikes/times, spikes/units and labels")
        times = tuple(np.asarray(t, dtype=np.float64) for t in f["spikes/times"][:])
        units = tuple(np.asarray(u, dtype=np.int64) for u in f["spikes/units"][:])
        labels = np.asarray(f["labels"][:], dtype=np.int64)
    if not len(times) == len(units) == len(labels):
        raise ValueError(f"{path}: {len(times)} time arrays, {len(units)} unit arrays, {len(labels)} labels: "
                         "the file is inconsistent")
    for i, (t, u) in enumerate(zip(times, units)):
        _check_pair(i, t, u, n_units)
    return SpikeEvents(times, units, labels, int(n_units))


def write_shd(path: PathLike, times: Sequence[np.ndarray], units: Sequence[np.ndarray], labels: Sequence[int]) -> None:
    """Write the SHD layout (float16 times as in the published files would lose precision, so
    times are stored as float64, units as uint16)."""
    h5py = _h5py()
    if not len(times) == len(units) == len(labels):
        raise ValueError("times, units and labels need one entry per sample")
    for i, (t, u) in enumerate(zip(times, units)):
        _check_pair(i, np.asarray(t, np.float64), np.asarray(u), None)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with h5py.File(tmp, "w") as f:
        g = f.create_group("spikes")
        dt = g.create_dataset("times", (len(times),), dtype=h5py.vlen_dtype(np.float64))
        du = g.create_dataset("units", (len(units),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (t, u) in enumerate(zip(times, units)):
            dt[i] = np.asarray(t, np.float64)
            du[i] = np.asarray(u, np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.int64))
    os.replace(tmp, path)


def _steps(t_max: float, dt: float) -> int:
    return int(np.floor(t_max / dt)) + 1


def bin_spikes(times: Sequence[np.ndarray], units: Sequence[np.ndarray], n_units: int, dt: float, *,
               n_steps: int | None = None, binary: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Count spikes in bins of ``dt`` seconds: ``(x[T, B, n_units], mask[T, B])``.

    A spike at time ``t`` falls in step ``floor(t / dt)``. ``T`` is the step of the latest spike
    + 1, or ``n_steps`` if given (an explicit crop: spikes after it are left out).
    ``mask[:, b]`` is True up to sample ``b``'s last spike. ``binary``
    clips counts to 1.
    """
    if dt <= 0:
        raise ValueError(f"dt must be > 0 seconds, got {dt}")
    if len(times) == 0:
        raise ValueError("no samples to bin: pass at least one")
    steps = []
    for i, (t, u) in enumerate(zip(times, units)):
        t, u = np.asarray(t, np.float64), np.asarray(u, np.int64)
        _check_pair(i, t, u, n_units)
        steps.append((np.floor(t / dt).astype(np.int64), u))
    lengths = [int(s.max()) + 1 if s.size else 1 for s, _ in steps]
    T = max(lengths) if n_steps is None else int(n_steps)
    x = torch.zeros(T, len(steps), n_units)
    mask = torch.zeros(T, len(steps), dtype=torch.bool)
    for b, (s, u) in enumerate(steps):
        keep = s < T
        np.add.at(x.numpy()[:, b], (s[keep], u[keep]), 1.0)
        mask[: min(T, lengths[b]), b] = True
    return (x.clamp_max(1.0) if binary else x), mask


def bin_structured(events: Sequence[np.ndarray], sensor_size: tuple[int, ...], dt_us: float, *,
                   n_steps: int | None = None, binary: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Bin tonic-style structured events into ``[T, B, P, H, W]`` frames (``[T, B, P, W]`` when
    the events have no ``y``), with a mask ``[T, B]``.

    Args:
        events: one structured array per sample with fields ``t`` (microseconds), ``x``, and
            optionally ``y`` and ``p`` (polarity 0/1 or -1/1; absent: one channel).
        sensor_size: ``(W, H, P)`` as tonic gives it (``(W, 1, P)`` or ``(W, P)`` for 1-D sensors).
        dt_us: bin width in microseconds; step ``floor(t / dt_us)``.
    """
    if dt_us <= 0:
        raise ValueError(f"dt_us must be > 0 microseconds, got {dt_us}")
    if len(events) == 0:
        raise ValueError("no samples to bin: pass at least one")
    W = int(sensor_size[0])
    H = int(sensor_size[1]) if len(sensor_size) == 3 else 1
    P = int(sensor_size[-1]) if len(sensor_size) >= 2 else 1
    has_y = None
    cols = []
    for i, ev in enumerate(events):
        names = ev.dtype.names or ()
        for need in ("t", "x"):
            if need not in names:
                raise ValueError(f"sample {i}: events need fields 't' and 'x' (tonic layout), got {names}")
        hy = "y" in names
        if has_y is None:
            has_y = hy
        elif has_y != hy:
            raise ValueError(f"sample {i}: some samples have a 'y' field and some do not")
        t = np.asarray(ev["t"], np.float64)
        x = np.asarray(ev["x"], np.int64)
        y = np.asarray(ev["y"], np.int64) if hy else np.zeros_like(x)
        p = np.asarray(ev["p"], np.int64) if "p" in names else np.zeros_like(x)
        p = np.where(p < 0, 0, p)  # -1/1 polarity -> 0/1
        if t.size and (t.min() < 0 or not np.isfinite(t).all()):
            raise ValueError(f"sample {i}: timestamps must be finite and >= 0 microseconds")
        for name, v, n in (("x", x, W), ("y", y, H), ("p", p, P)):
            if v.size and (v.min() < 0 or v.max() >= n):
                raise ValueError(f"sample {i}: {name} values {v.min()}..{v.max()} outside the sensor "
                                 f"size {n}: pass the right sensor_size (W, H, P)")
        cols.append((np.floor(t / dt_us).astype(np.int64), x, y, p))
    lengths = [int(c[0].max()) + 1 if c[0].size else 1 for c in cols]
    T = max(lengths) if n_steps is None else int(n_steps)
    frames = np.zeros((T, len(cols), P, H, W), dtype=np.float32)
    mask = torch.zeros(T, len(cols), dtype=torch.bool)
    for b, (s, x, y, p) in enumerate(cols):
        keep = s < T
        np.add.at(frames[:, b], (s[keep], p[keep], y[keep], x[keep]), 1.0)
        mask[: min(T, lengths[b]), b] = True
    out = torch.from_numpy(frames)
    if binary:
        out = out.clamp_max(1.0)
    return (out if has_y else out[:, :, :, 0]), mask
