"""Contract: every backend registered for a neuron sequence op matches the "reference" loop.

Parametrised at collection time over ``available_backends(op, device)``, so a fused kernel that
registers itself later (``neuroplastic.kernels``) is covered without editing this file. A backend
must give the same spikes and final state, and the same gradients (w.r.t. the input and the
initial state) within 1e-5 relative in float32, for every parameter combination below.
"""
from __future__ import annotations

import importlib

import pytest
import torch

from neuroplastic._core.registry import available_backends, get_backend
from neuroplastic.neurons import ALIF, LIF, ALIFParams, LIFParams, alif_init, lif_init

try:  # fused kernels register on import; they are optional
    importlib.import_module("neuroplastic.kernels")
except ModuleNotFoundError as exc:  # pragma: no cover - only before kernels exist
    if exc.name != "neuroplastic.kernels":
        raise

OPS = {
    "lif_sequence": (LIFParams, lif_init, LIF),
    "alif_sequence": (ALIFParams, alif_init, ALIF),
}


def _cases() -> list:
    cases = []
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for op in OPS:
        for device in devices:
            for name in available_backends(op, device):
                cases.append(pytest.param(op, name, device, id=f"{op}-{name}-{device}"))
    return cases


PARAMS = [
    dict(),
    dict(reset="zero", v_reset=-0.2, detach_reset=True),
    dict(reset="none", surrogate="arctan"),
    dict(t_ref=2e-3, surrogate={"name": "triangle", "alpha": 0.8}),
    dict(t_ref=1.5e-3, reset="zero", surrogate="sigmoid", v_leak=0.1, r=1.7, tau_mem=4e-3),
]
SHAPES = [(1, 1, 1), (7, 3, 5), (20, 2, 3, 4), (40, 4, 33)]


def _inputs(shape, dtype, device, seed, expand=False):
    g = torch.Generator().manual_seed(seed)
    if expand:  # constant, non-contiguous input (stride 0 over time), as ConstantEncoder makes
        x = (torch.rand(shape[1:], generator=g, dtype=dtype) * 3.0).expand(shape)
    else:
        x = torch.randn(shape, generator=g, dtype=dtype) * 1.5 + 0.8
    return x.to(device)


def _run(fn, op, params, x, with_state, dt):
    """Run ``fn``; returns (spikes, final-state tensors, grads w.r.t. x and initial state)."""
    init = OPS[op][1]
    x = x.detach().clone().requires_grad_(True)
    leaves = [x]
    state = None
    if with_state:
        g = torch.Generator().manual_seed(99)
        st0 = init(x[0].detach(), params)
        st0 = st0._replace(v=(torch.rand(x.shape[1:], generator=g, dtype=x.dtype) * 1.2 - 0.1).to(x.device))
        if op == "alif_sequence":
            st0 = st0._replace(a=(torch.rand(x.shape[1:], generator=g, dtype=x.dtype) * 2).to(x.device))
        if params.t_ref > 0:  # some neurons start refractory
            ref = (torch.rand(x.shape[1:], generator=g) < 0.3).to(x.dtype) * params.t_ref
            st0 = st0._replace(ref=ref.to(x.device))
        st0 = st0._replace(v=st0.v.requires_grad_(True))
        leaves.append(st0.v)
        if op == "alif_sequence":
            st0 = st0._replace(a=st0.a.requires_grad_(True))
            leaves.append(st0.a)
        state = st0
    spikes, final = fn(x, state, params, dt)
    gw = torch.Generator().manual_seed(7)
    w_s = torch.rand(spikes.shape, generator=gw, dtype=x.dtype).to(x.device)
    w_v = torch.rand(final.v.shape, generator=gw, dtype=x.dtype).to(x.device)
    loss = (spikes * w_s).sum() + (final.v * w_v).sum()
    if op == "alif_sequence":
        loss = loss + final.a.sum()
    grads = torch.autograd.grad(loss, leaves)
    return spikes.detach(), [t.detach() for t in final], grads


def _close(a, b, rtol):
    scale = float(b.abs().max()) if b.numel() else 0.0
    torch.testing.assert_close(a, b, rtol=rtol, atol=rtol * max(scale, 1e-6))


@pytest.mark.parametrize("op, name, device", _cases())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_backend_matches_reference(op: str, name: str, device: str, dtype: torch.dtype) -> None:
    params_cls = OPS[op][0]
    rtol = 1e-5 if dtype == torch.float32 else 1e-10
    ref_fn = get_backend(op, device, name="reference")
    fn = get_backend(op, device, name=name)
    n_spikes = 0
    for i, kw in enumerate(PARAMS):
        params = params_cls(**kw)
        for j, shape in enumerate(SHAPES):
            for with_state in (False, True):
                x = _inputs(shape, dtype, device, seed=100 * i + j, expand=(j == 3 and with_state))
                s_ref, st_ref, g_ref = _run(ref_fn, op, params, x, with_state, 1e-3)
                s, st, g = _run(fn, op, params, x, with_state, 1e-3)
                where = f"{name} vs reference, params={kw}, shape={shape}, state={with_state}"
                assert s.shape == s_ref.shape and s.dtype == s_ref.dtype, where
                assert torch.equal(s, s_ref), f"spikes differ: {where}"
                for a, b in zip(st, st_ref):
                    _close(a, b, rtol)
                for a, b in zip(g, g_ref):
                    _close(a, b, rtol)
                n_spikes += int(s_ref.sum())
    assert n_spikes > 100, "the contract inputs should make the neurons fire"


@pytest.mark.parametrize("op, name, device", _cases())
def test_backend_inference_and_module_dispatch(op: str, name: str, device: str) -> None:
    params_cls, _, module_cls = OPS[op]
    kw = dict(t_ref=1e-3, reset="zero", tau_mem=5e-3)
    x = _inputs((30, 3, 7), torch.float32, device, seed=5)
    ref, ref_state = get_backend(op, device, name="reference")(x, None, params_cls(**kw), 5e-4)
    with torch.no_grad():  # an inference-only fast path must agree too
        s, st = get_backend(op, device, name=name)(x, None, params_cls(**kw), 5e-4)
    assert torch.equal(s, ref)
    for a, b in zip(st, ref_state):
        _close(a, b.detach(), 1e-5)
    # The module forwards to the named backend; splitting the sequence keeps the same result.
    m = module_cls(backend=name, dt=5e-4, **kw).to(device)
    s1, st1 = m(x[:11])
    s2, _ = m(x[11:], st1)
    assert torch.equal(torch.cat([s1, s2]), ref)


def test_reference_always_registered() -> None:
    for op in ("lif_sequence", "alif_sequence", "izhikevich_sequence", "li_sequence"):
        assert "reference" in available_backends(op, "cpu")
        assert "reference" in available_backends(op, "cuda")
