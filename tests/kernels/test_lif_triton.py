"""Triton LIF / adaptive-LIF backend: imports and registers cleanly without Triton or a GPU;
on a CUDA machine with Triton, the same contract as the CPU kernels (tests marked ``cuda``)."""
from __future__ import annotations

import importlib

import pytest
import torch

from neuroplastic._core.registry import available_backends
from neuroplastic.kernels import lif_triton

needs_gpu = pytest.mark.skipif(not lif_triton.triton_available(), reason="needs Triton and a CUDA device")
RESETS = ("subtract", "zero", "none")
SURROGATES = ("fast_sigmoid", "arctan", "triangle", "sigmoid")


def test_module_imports_and_registration_is_guarded() -> None:
    mod = importlib.reload(lif_triton)
    assert callable(mod.lif_sequence_triton) and callable(mod.alif_sequence_triton)
    listed = "triton" in available_backends("lif_sequence", "cuda")
    assert listed == mod.triton_available()
    assert "triton" not in available_backends("lif_sequence", "cpu")
    if mod.triton is None:
        assert not mod.triton_available()


@pytest.mark.cuda
@needs_gpu
@pytest.mark.parametrize("model", ["lif", "alif"])
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("surrogate", SURROGATES)
def test_cuda_matches_reference(contract, model, reset, detach, surrogate) -> None:
    params = contract.MODELS[model][0](reset=reset, detach_reset=detach, surrogate=surrogate)
    for shape in [(16, 3, 37), (12, 2, 3, 5, 5)]:
        x, state, w_s, w_state = contract.make_inputs(model, shape, seed=len(reset), device="cuda")
        want = contract.run(model, "reference", x, params, state, (w_s, w_state))
        got = contract.run(model, "triton", x, params, state, (w_s, w_state))
        contract.assert_same(got, want)


@pytest.mark.cuda
@needs_gpu
@pytest.mark.parametrize("model", ["lif", "alif"])
def test_cuda_dense_weights_float64_and_inference(contract, model) -> None:
    params = contract.MODELS[model][0](reset="zero", v_leak=-0.1, v_reset=-0.2)
    torch.manual_seed(0)
    spikes_in = (torch.rand(20, 4, 12, device="cuda") < 0.3).float()
    dense = torch.nn.Linear(12, 9).cuda()
    with torch.no_grad():
        dense.weight.mul_(40.0)
    _, _, w_s, w_state = contract.make_inputs(model, (20, 4, 9), seed=5, device="cuda")
    want = contract.run(model, "reference", spikes_in, params, None, (w_s, w_state), dense=dense)
    got = contract.run(model, "triton", spikes_in, params, None, (w_s, w_state), dense=dense)
    contract.assert_same(got, want)
    x, state, w_s, w_state = contract.make_inputs(model, (9, 2, 50), dtype=torch.float64, device="cuda")
    want = contract.run(model, "reference", x, params, state, (w_s, w_state))
    contract.assert_same(contract.run(model, "triton", x, params, state, (w_s, w_state)), want, rtol=1e-12)
    with torch.no_grad():
        contract.assert_same(contract.run(model, "triton", x, params, state, grad=False),
                             contract.run(model, "reference", x, params, state, grad=False))


@pytest.mark.cuda
@needs_gpu
@pytest.mark.parametrize("model", ["lif", "alif"])
def test_cuda_bfloat16_equals_float32_reference_on_same_input(contract, model) -> None:
    params = contract.MODELS[model][0]()
    x, state, w_s, w_state = contract.make_inputs(model, (16, 4, 64), dtype=torch.bfloat16, device="cuda")
    got = contract.run(model, "triton", x, params, state, (w_s, w_state))
    f32 = lambda t: t.float()  # noqa: E731
    want = contract.run(model, "reference", f32(x), params, type(state)(*map(f32, state)),
                        (f32(w_s), [f32(w) for w in w_state]))
    assert got["spikes"].dtype == torch.bfloat16
    assert torch.equal(got["spikes"].float(), want["spikes"])
    scale = float(want["grad_x"].abs().max())
    torch.testing.assert_close(got["grad_x"].float(), want["grad_x"], rtol=2e-2, atol=2e-2 * scale)
