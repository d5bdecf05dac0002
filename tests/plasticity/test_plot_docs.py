"""Receptive-field grids, weight-histogram recorder, atomic saving, and the package's doctests."""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import numpy as np
import pytest
import torch

import neuroplastic.plasticity as plasticity
from neuroplastic.plasticity.plot import WeightHistogramRecorder, plot_receptive_fields, save_figure, weight_grid


def test_weight_grid_places_each_unit_in_its_tile() -> None:
    w = torch.arange(5 * 6, dtype=torch.float64).reshape(5, 6)  # 5 units of 2x3 images
    grid = weight_grid(w, (2, 3), ncols=2, pad=1, normalize="none")
    assert grid.shape == (3 * 3 - 1, 2 * 4 - 1)
    np.testing.assert_array_equal(grid[0:2, 0:3], w[0].reshape(2, 3).numpy())
    np.testing.assert_array_equal(grid[0:2, 4:7], w[1].reshape(2, 3).numpy())
    np.testing.assert_array_equal(grid[6:8, 0:3], w[4].reshape(2, 3).numpy())
    assert np.isnan(grid[2, 0]) and np.isnan(grid[6:8, 4:7]).all()  # padding and the empty last tile
    each = weight_grid(w, (2, 3), ncols=2, normalize="each")
    np.testing.assert_allclose(each[0:2, 0:3], (np.arange(6).reshape(2, 3)) / 5.0)
    sym = weight_grid(torch.tensor([[-2.0, 0.0, 1.0, 0.5]]), (2, 2), normalize="symmetric")
    np.testing.assert_allclose(sym, [[0.0, 0.5], [0.75, 0.625]])
    rgb = weight_grid(torch.rand(4, 3, 5, 5))  # conv kernels with 3 input channels -> RGB tiles
    assert rgb.shape == (11, 11, 3)


def test_receptive_field_and_histogram_figures_are_saved_atomically(tmp_path) -> None:
    fig = plot_receptive_fields(torch.rand(9, 16), tmp_path / "figs" / "rf.png", title="rf")
    assert fig.axes[0].get_title() == "rf"
    assert (tmp_path / "figs" / "rf.png").stat().st_size > 0
    rec = WeightHistogramRecorder(bins=8, range=(0.0, 1.0))
    for epoch in range(3):
        rec.record(torch.rand(10, 10) ** (epoch + 1), epoch=epoch)
    assert [int(c.sum()) for c in rec.counts] == [100, 100, 100]
    assert rec.to_dict()["epochs"] == [0.0, 1.0, 2.0]
    rec.plot(tmp_path / "hist.pdf")
    assert (tmp_path / "hist.pdf").read_bytes()[:4] == b"%PDF"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["figs", "hist.pdf", "rf.png"]  # no temp files left


def test_save_failure_leaves_no_partial_file(tmp_path) -> None:
    class Broken:
        def savefig(self, fh, **kw):
            fh.write(b"partial")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        save_figure(Broken(), tmp_path / "out.png")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("call, match", [
    (lambda: weight_grid(torch.rand(3, 10)), "not a square image: pass shape"),
    (lambda: weight_grid(torch.rand(3, 10), (3, 3)), "pass the input image shape"),
    (lambda: weight_grid(torch.rand(3, 2, 3, 3)), "only 1 \\(grey\\) or 3 \\(RGB\\)"),
    (lambda: weight_grid(torch.rand(3, 4), normalize="minmax"), "choose one of 'each', 'symmetric'"),
    (lambda: WeightHistogramRecorder(range=(0.0, 1.0)).record(torch.tensor([2.0])), "widen range"),
    (lambda: WeightHistogramRecorder().record(torch.tensor([float("nan")])), "lower the learning rate"),
    (lambda: WeightHistogramRecorder().plot(), "call record"),
    (lambda: save_figure(None, "figure"), "no file suffix"),
])
def test_plot_errors(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def _modules() -> list[str]:
    return ["neuroplastic.plasticity"] + [m.name for m in pkgutil.iter_modules(plasticity.__path__, "neuroplastic.plasticity.")]


@pytest.mark.parametrize("name", _modules())
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
