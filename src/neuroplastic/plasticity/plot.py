"""Visualising learned synapses: receptive-field grids and weight histograms over training.

Figures are built with :class:`matplotlib.figure.Figure` on the Agg canvas, never through
``pyplot``, so no GUI backend is touched and nothing changes the user's global matplotlib state.
:func:`save_figure` writes atomically (temporary file in the same folder, then ``os.replace``), so
a crash never leaves a half-written image.
"""
from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch


def _figure(figsize: tuple[float, float]):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Any, path: str | os.PathLike, *, dpi: int = 100) -> Path:
    """Save ``fig`` to ``path`` atomically (format from the suffix, e.g. ``.png``, ``.pdf``)."""
    path = Path(path)
    if not path.suffix:
        raise ValueError(f"{path} has no file suffix: add one such as .png or .pdf to choose the format")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format=path.suffix[1:], dpi=dpi, bbox_inches="tight")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def weight_grid(
    weight: torch.Tensor | np.ndarray,
    shape: Sequence[int] | None = None,
    *,
    ncols: int | None = None,
    pad: int = 1,
    normalize: str = "each",
    pad_value: float = float("nan"),
) -> np.ndarray:
    """Tile each output unit's incoming weights as an image: returns ``[rows*(h+pad)-pad, cols*(w+pad)-pad(, 3)]``.

    Args:
        weight: dense ``[n_out, n_in]`` (give ``shape``) or convolutional ``[out, C, kh, kw]``.
        shape: image shape of one unit, ``(h, w)`` or ``(C, h, w)`` with ``C`` in {1, 3}, for dense
            weights (e.g. ``(28, 28)`` for MNIST).
        ncols: tiles per row (default: ``ceil(sqrt(n_out))``).
        pad: pixels between tiles (filled with ``pad_value``, NaN renders blank).
        normalize: ``"each"`` (every tile scaled to [0, 1] on its own), ``"symmetric"`` (every tile
            divided by its largest ``|w|`` and mapped to [0, 1] with 0 at 0.5: signed weights with a
            diverging colormap such as ``"bwr"``), ``"global"`` (one scale for all) or ``"none"``.
    """
    w = weight.detach().cpu().double().numpy() if isinstance(weight, torch.Tensor) else np.asarray(weight, dtype=float)
    if normalize not in ("each", "symmetric", "global", "none"):
        raise ValueError(f"unknown normalize {normalize!r}: choose one of 'each', 'symmetric', 'global', 'none'")
    if w.ndim == 4:
        tiles = w
    elif w.ndim == 2:
        if shape is None:
            side = math.isqrt(w.shape[1])
            if side * side != w.shape[1]:
                raise ValueError(f"{w.shape[1]} inputs are not a square image: pass shape=(h, w) or (C, h, w)")
            shape = (side, side)
        if math.prod(shape) != w.shape[1]:
            raise ValueError(f"shape {tuple(shape)} has {math.prod(shape)} pixels but the weight has {w.shape[1]} inputs: "
                             "pass the input image shape, e.g. shape=(28, 28)")
        tiles = w.reshape(w.shape[0], *((1, *shape) if len(shape) == 2 else shape))
    else:
        raise ValueError(f"weight must be [n_out, n_in] or [out, C, kh, kw], got shape {tuple(w.shape)}")
    n, c, h, wd = tiles.shape
    if c not in (1, 3):
        raise ValueError(f"tiles have {c} channels; only 1 (grey) or 3 (RGB) can be shown: pass weight[:, i:i+1] "
                         "or weight.mean(1, keepdim=True)")
    if normalize == "each":
        lo = tiles.reshape(n, -1).min(1).reshape(n, 1, 1, 1)
        hi = tiles.reshape(n, -1).max(1).reshape(n, 1, 1, 1)
        tiles = (tiles - lo) / np.where(hi > lo, hi - lo, 1.0)
    elif normalize == "symmetric":
        peak = np.abs(tiles).reshape(n, -1).max(1).reshape(n, 1, 1, 1)
        tiles = 0.5 + 0.5 * tiles / np.where(peak > 0, peak, 1.0)
    elif normalize == "global":
        lo, hi = tiles.min(), tiles.max()
        tiles = (tiles - lo) / (hi - lo if hi > lo else 1.0)
    ncols = ncols or math.ceil(math.sqrt(n))
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}")
    nrows = math.ceil(n / ncols)
    grid = np.full((c, nrows * (h + pad) - pad, ncols * (wd + pad) - pad), pad_value, dtype=float)
    for k in range(n):
        r, q = divmod(k, ncols)
        grid[:, r * (h + pad):r * (h + pad) + h, q * (wd + pad):q * (wd + pad) + wd] = tiles[k]
    return grid[0] if c == 1 else np.moveaxis(grid, 0, -1)


def plot_receptive_fields(
    weight: torch.Tensor | np.ndarray,
    path: str | os.PathLike | None = None,
    shape: Sequence[int] | None = None,
    *,
    ncols: int | None = None,
    normalize: str = "each",
    cmap: str = "viridis",
    title: str | None = None,
    dpi: int = 100,
) -> Any:
    """Receptive fields (each unit's weights as an image, in a grid). Saves to ``path`` if given.

    Returns the :class:`matplotlib.figure.Figure`. See :func:`weight_grid` for the arguments.
    """
    grid = weight_grid(weight, shape, ncols=ncols, normalize=normalize)
    scale = 8.0 / max(grid.shape[:2])
    fig = _figure((max(2.0, grid.shape[1] * scale), max(2.0, grid.shape[0] * scale)))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(grid, cmap=cmap if grid.ndim == 2 else None, interpolation="nearest")
    ax.set_axis_off()
    if grid.ndim == 2 and normalize in ("global", "none"):
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if title:
        ax.set_title(title)
    if path is not None:
        save_figure(fig, path, dpi=dpi)
    return fig


class WeightHistogramRecorder:
    """Keeps a histogram of a weight tensor per epoch (or step) and plots them over training.

    Example:
        >>> rec = WeightHistogramRecorder(bins=10)
        >>> rec.record(torch.rand(100, 20), epoch=0)
        >>> int(rec.counts[0].sum())
        2000
    """

    def __init__(self, bins: int = 50, range: tuple[float, float] | None = None) -> None:
        if not isinstance(bins, int) or bins < 1:
            raise ValueError(f"bins must be a positive integer, got {bins!r}")
        if range is not None and not (math.isfinite(range[0]) and math.isfinite(range[1]) and range[0] < range[1]):
            raise ValueError(f"range must be (lo, hi) with lo < hi, got {range!r}: or pass None to use each tensor's min/max")
        self.bins = bins
        self.range = None if range is None else (float(range[0]), float(range[1]))
        self.epochs: list[float] = []
        self.counts: list[np.ndarray] = []
        self.edges: list[np.ndarray] = []

    def record(self, weight: torch.Tensor | np.ndarray, epoch: float | None = None) -> None:
        """Histogram of all entries of ``weight`` (a fixed ``range`` must contain every value)."""
        w = weight.detach().cpu().double().numpy().ravel() if isinstance(weight, torch.Tensor) else np.asarray(weight, float).ravel()
        if not np.isfinite(w).all():
            raise ValueError("weight contains NaN/inf values: the rule or learning rate diverged; lower the learning rate")
        lo, hi = self.range if self.range is not None else (float(w.min()), float(w.max()))
        if self.range is not None and (w.min() < lo or w.max() > hi):
            raise ValueError(f"weights span [{w.min():.4g}, {w.max():.4g}], outside the recorder's range {self.range}: "
                             "widen range or pass range=None")
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        counts, edges = np.histogram(w, bins=self.bins, range=(lo, hi))
        self.epochs.append(float(len(self.epochs) if epoch is None else epoch))
        self.counts.append(counts)
        self.edges.append(edges)

    def to_dict(self) -> dict:
        """JSON-able record: ``{"epochs": [...], "counts": [[...]], "edges": [[...]]}``."""
        return {"epochs": list(self.epochs), "counts": [c.tolist() for c in self.counts],
                "edges": [e.tolist() for e in self.edges]}

    def plot(self, path: str | os.PathLike | None = None, *, title: str | None = None, cmap: str = "viridis",
             dpi: int = 100) -> Any:
        """Overlaid step histograms, coloured from first (dark) to last (bright) record."""
        if not self.counts:
            raise ValueError("nothing recorded yet: call record(weight, epoch) first")
        from matplotlib import colormaps

        fig = _figure((6.0, 4.0))
        ax = fig.add_subplot(1, 1, 1)
        colours = colormaps[cmap](np.linspace(0.0, 1.0, len(self.counts)))
        for col, ep, c, e in zip(colours, self.epochs, self.counts, self.edges):
            ax.stairs(c, e, color=col, label=f"epoch {ep:g}")
        ax.set_xlabel("weight")
        ax.set_ylabel("count")
        if len(self.counts) <= 12:
            ax.legend(fontsize="small")
        if title:
            ax.set_title(title)
        if path is not None:
            save_figure(fig, path, dpi=dpi)
        return fig
