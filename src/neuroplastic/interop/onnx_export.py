"""Export the inference of a ``Sequential`` to ONNX (``to_onnx``).

The network runs over a time-first input ``[T, B, ...]``; the exported graph takes that input
(batch dimension dynamic, ``T`` fixed to the sample's: the time loop is unrolled) and returns
the last layer's output. Dense, Conv2d, pooling, Flatten, LIF, ALIF, LI and IF layers export;
spikes are the Heaviside step of the forward pass (surrogate gradients do not matter here).
Fused kernels (C through ctypes, Triton) cannot be traced, so :func:`reference_backends` forces
the pure-torch reference of every operation while exporting; the results are the same.
"""
from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

from neuroplastic._core.atomic import atomic_path
from neuroplastic.interop._deps import require

BACKEND_ENV = "NEUROPLASTIC_BACKEND"


@contextlib.contextmanager
def reference_backends() -> Iterator[None]:
    """Within the block every backend lookup returns the pure-torch ``"reference"`` (through
    ``NEUROPLASTIC_BACKEND``, restored afterwards). Not thread-safe: it sets a process variable."""
    old = os.environ.get(BACKEND_ENV)
    os.environ[BACKEND_ENV] = "reference"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(BACKEND_ENV, None)
        else:
            os.environ[BACKEND_ENV] = old


class _Outputs(nn.Module):
    """``forward(x) -> y``: drops the state that stateful modules return beside their output."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.module(x)
        return y[0] if isinstance(y, tuple) else y


def to_onnx(module: nn.Module, sample_input: torch.Tensor, path: Any, *, opset: int = 17,
            dynamic_batch: bool = True) -> Path:
    """Write the inference of ``module`` on inputs shaped like ``sample_input`` to ONNX at ``path``.

    Args:
        module: a :class:`~neuroplastic.network.Sequential` (or any module whose forward returns
            ``y`` or ``(y, state)``) over time-first input, or a :class:`~neuroplastic.training.Model`.
        sample_input: a time-first tensor ``[T, B, ...]``; ``T`` is fixed in the exported graph.
        path: the ``.onnx`` file, written atomically (a temporary sibling renamed into place).
        opset: ONNX opset version.
        dynamic_batch: leave the batch dimension (dim 1) free.

    Returns:
        The path. Run it with ``onnxruntime.InferenceSession(path).run(None, {"input": x})``.
    """
    require("onnx", "onnx", "to_onnx")
    if not isinstance(module, nn.Module) and isinstance(getattr(module, "module", None), nn.Module):
        module = module.module  # a training.Model
    if not isinstance(sample_input, torch.Tensor) or sample_input.ndim < 3:
        raise ValueError("sample_input must be a time-first tensor [T, B, ...], e.g. torch.zeros(T, 1, n_in)")
    wrapped = _Outputs(module)
    was_training = module.training
    module.eval()
    axes = {"input": {1: "batch"}, "output": {1: "batch"}} if dynamic_batch else None
    try:
        with reference_backends(), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about Python-side checks baked into the graph
            with atomic_path(path, suffix=".onnx") as tmp:
                torch.onnx.export(wrapped, (sample_input,), str(tmp), input_names=["input"], output_names=["output"],
                                  dynamic_axes=axes, opset_version=opset, dynamo=False)
    finally:
        module.train(was_training)
    return Path(path)
