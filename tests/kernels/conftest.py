"""Shared helpers of the kernel contract tests: run one sequence backend and collect everything
its contract covers (spikes, final state, gradients w.r.t. input, initial state, Dense weights)."""
from __future__ import annotations

from typing import Any, Callable

import pytest
import torch

import neuroplastic.kernels  # noqa: F401 - registers the fused backends
from neuroplastic._core.registry import get_backend
from neuroplastic.neurons import ALIFParams, ALIFState, LIFParams, LIFState

DT = 1e-3
MODELS = {"lif": (LIFParams, LIFState), "alif": (ALIFParams, ALIFState)}


def make_inputs(model: str, shape: tuple[int, ...], dtype=torch.float32, seed: int = 0, device="cpu"):
    """Input current giving moderate firing, a random initial state and fixed loss weights."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float64) * 12.0 + 5.0
    step = shape[1:]
    v = torch.randn(step, generator=g, dtype=torch.float64) * 0.5
    ref = torch.zeros(step, dtype=torch.float64)
    a = torch.rand(step, generator=g, dtype=torch.float64)
    state = LIFState(v, ref) if model == "lif" else ALIFState(v, a, ref)
    w_s = torch.randn(shape, generator=g, dtype=torch.float64)
    w_state = [torch.randn(step, generator=g, dtype=torch.float64) for _ in state]
    cast = lambda t: t.to(device=device, dtype=dtype)  # noqa: E731
    return cast(x), type(state)(*map(cast, state)), cast(w_s), [cast(w) for w in w_state]


def run_backend(
    model: str, backend: str, x: torch.Tensor, params: Any, state: Any = None, weights=None,
    dense: torch.nn.Linear | None = None, grad: bool = True,
) -> dict[str, Any]:
    """Run ``<model>_sequence`` by backend name; return outputs and gradients (detached clones)."""
    fn = get_backend(f"{model}_sequence", x.device, name=backend)
    x = x.detach().clone().requires_grad_(grad)
    n_diff = len(state) - 1 if state is not None else 0  # every state tensor but ``ref`` is differentiable
    if state is not None:
        state = type(state)(*[t.detach().clone().requires_grad_(grad and i < n_diff) for i, t in enumerate(state)])
    if dense is not None:
        dense.zero_grad()
        inp = dense(x)
    else:
        inp = x
    s, final = fn(inp, state, params, DT)
    out = {"spikes": s.detach().clone(), "state": [t.detach().clone() for t in final]}
    if grad:
        w_s, w_state = weights
        loss = (s * w_s).sum() + sum((t * w).sum() for t, w in zip(list(final)[:-1], w_state))
        loss.backward()
        out["grad_x"] = x.grad.clone()
        if state is not None:
            out["grad_state"] = [t.grad.clone() for t in list(state)[:n_diff]]
        if dense is not None:
            out["grad_w"] = dense.weight.grad.clone()
    return out


def assert_grad_close(got: torch.Tensor, want: torch.Tensor, rtol: float = 1e-5) -> None:
    """Elementwise ``rtol`` plus an absolute floor at ``rtol`` x the largest entry (cancellation)."""
    torch.testing.assert_close(got, want, rtol=rtol, atol=rtol * float(want.abs().max()) + 1e-30)


def assert_same_contract(got: dict, want: dict, rtol: float = 1e-5) -> None:
    assert torch.equal(got["spikes"], want["spikes"]), "spikes differ from the reference"
    for a, b in zip(got["state"], want["state"]):
        assert torch.equal(a, b), "final state differs from the reference"
    for key in ("grad_x", "grad_w"):
        if key in want:
            assert_grad_close(got[key], want[key], rtol)
    for a, b in zip(got.get("grad_state", []), want.get("grad_state", [])):
        assert_grad_close(a, b, rtol)


@pytest.fixture
def contract() -> Callable:
    """The helpers above, as a fixture (test files cannot import each other under importlib mode)."""
    return type("Contract", (), {
        "make_inputs": staticmethod(make_inputs), "run": staticmethod(run_backend),
        "assert_same": staticmethod(assert_same_contract), "assert_grad_close": staticmethod(assert_grad_close),
        "MODELS": MODELS, "DT": DT,
    })
