"""ONNX export: onnxruntime reproduces the torch forward pass of the same network."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from neuroplastic._core.registry import get_backend  # noqa: E402
from neuroplastic.interop import reference_backends, to_onnx  # noqa: E402
from neuroplastic.network import Sequential  # noqa: E402
from neuroplastic.neurons import ALIF, LI, LIF  # noqa: E402
from neuroplastic.synapses import AvgPool2d, Conv2d, Dense, Flatten  # noqa: E402


def _ort(path, x: torch.Tensor) -> np.ndarray:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": x.numpy()})[0]


def test_dense_lif_alif_li_network_matches_torch(tmp_path) -> None:
    torch.manual_seed(0)
    net = Sequential(Dense(6, 16), LIF(tau_mem=torch.linspace(5e-3, 20e-3, 16)), Dense(16, 8), ALIF(tau_mem=5e-3, v_th=0.05),
                     Dense(8, 3), LI())
    sample = torch.randn(12, 2, 6)
    path = to_onnx(net, sample, tmp_path / "net.onnx")
    assert path.is_file() and not [p for p in os.listdir(tmp_path) if p.startswith(".")]  # no temporary left
    for batch in (2, 7):  # the batch dimension is dynamic
        x = torch.randn(12, batch, 6) * 2
        with torch.no_grad():
            y, _, outs = net.forward_record(x)
        assert outs[1].sum() > 0 and outs[3].sum() > 0  # both spiking layers fire
        np.testing.assert_allclose(_ort(path, x), y.numpy(), rtol=0, atol=1e-5)


def test_conv_network_with_fused_default_backend_exports(tmp_path) -> None:
    # On CPU LIF's default is the fused C/torch kernel, which cannot be traced: export forces
    # the reference, and ONNX matches the default (fused) torch output.
    assert get_backend("lif_sequence", "cpu").__name__ != "run"
    torch.manual_seed(1)
    net = Sequential(Conv2d(1, 4, 3, padding=1), LIF(), AvgPool2d(2), Flatten(), Dense(4 * 4 * 4, 5), LIF(),
                     Dense(5, 2), LI())
    x = torch.rand(8, 3, 1, 8, 8) * 2
    path = to_onnx(net, x, tmp_path / "conv.onnx")
    with torch.no_grad():
        y, _ = net(x)
    np.testing.assert_allclose(_ort(path, x), y.numpy(), rtol=0, atol=1e-5)
    assert os.environ.get("NEUROPLASTIC_BACKEND") is None  # restored after the export


def test_reference_backends_context_restores_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("NEUROPLASTIC_BACKEND", "cpu_fused")
    with reference_backends():
        assert os.environ["NEUROPLASTIC_BACKEND"] == "reference"
    assert os.environ["NEUROPLASTIC_BACKEND"] == "cpu_fused"


def test_bad_sample_input_names_the_layout(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"time-first tensor \[T, B, ...\]"):
        to_onnx(Sequential(Dense(3, 2)), torch.zeros(4, 3), tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()
