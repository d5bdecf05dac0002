"""Contract of the fused CPU LIF / adaptive-LIF backend ("cpu_fused") against the reference loop."""
from __future__ import annotations

import math
import warnings

import pytest
import torch

from neuroplastic._core.registry import available_backends, get_backend
from neuroplastic.kernels import _ccompile, _lif_c, lif_cpu
from neuroplastic.neurons import LIF, LIFParams, LIFState, Surrogate

RESETS = ("subtract", "zero", "none")
SURROGATES = ("fast_sigmoid", "arctan", "triangle", "sigmoid")
ENGINES = ("c", "torch")


@pytest.fixture(params=ENGINES)
def engine(request, monkeypatch):
    if request.param == "c" and not _lif_c.available():
        pytest.skip("no C compiler: the C engine cannot be built here")
    monkeypatch.setenv(lif_cpu.ENGINE_ENV, request.param)
    return request.param


@pytest.mark.parametrize("model", ["lif", "alif"])
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("surrogate", SURROGATES)
def test_matches_reference_with_state_in(contract, engine, model, reset, detach, surrogate) -> None:
    params = contract.MODELS[model][0](reset=reset, detach_reset=detach, surrogate=surrogate)
    x, state, w_s, w_state = contract.make_inputs(model, (16, 3, 2, 3, 4), seed=len(reset) + 7 * detach)
    want = contract.run(model, "reference", x, params, state, (w_s, w_state))
    got = contract.run(model, "cpu_fused", x, params, state, (w_s, w_state))
    rate = float(want["spikes"].mean())
    assert 0.05 < rate < 0.95, f"test input should give moderate firing, got rate {rate}"
    contract.assert_same(got, want)


@pytest.mark.parametrize("model", ["lif", "alif"])
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("surrogate", SURROGATES)
def test_dense_weight_gradients_match_reference(contract, engine, model, reset, surrogate) -> None:
    params = contract.MODELS[model][0](reset=reset, surrogate=surrogate)
    torch.manual_seed(3)
    spikes_in = (torch.rand(20, 4, 12) < 0.3).float()
    dense = torch.nn.Linear(12, 9)
    with torch.no_grad():
        dense.weight.mul_(40.0)
    _, _, w_s, w_state = contract.make_inputs(model, (20, 4, 9), seed=5)
    want = contract.run(model, "reference", spikes_in, params, None, (w_s, w_state), dense=dense)
    got = contract.run(model, "cpu_fused", spikes_in, params, None, (w_s, w_state), dense=dense)
    assert float(want["spikes"].mean()) > 0.05
    contract.assert_same(got, want)


@pytest.mark.parametrize("model", ["lif", "alif"])
@pytest.mark.parametrize("shape", [(1, 1), (7, 5, 33), (9, 2, 3, 5, 5), (3, 2, 1100)])  # N = 2200: two chunks
def test_float64_shapes_state_none(contract, engine, model, shape) -> None:
    params = contract.MODELS[model][0](reset="zero", v_leak=-0.1, v_reset=-0.2, r=1.3)
    x, _, w_s, w_state = contract.make_inputs(model, shape, dtype=torch.float64, seed=11)
    want = contract.run(model, "reference", x, params, None, (w_s, w_state))
    got = contract.run(model, "cpu_fused", x, params, None, (w_s, w_state))
    contract.assert_same(got, want, rtol=1e-12)


@pytest.mark.parametrize("model", ["lif", "alif"])
def test_inference_path_matches_reference(contract, engine, model) -> None:
    params = contract.MODELS[model][0]()
    x, state, _, _ = contract.make_inputs(model, (12, 4, 10), seed=2)
    want = contract.run(model, "reference", x, params, state, grad=False)
    with torch.no_grad():
        got = contract.run(model, "cpu_fused", x, params, state, grad=False)
    contract.assert_same(got, want)


def test_hand_computed_two_steps_and_gradient() -> None:
    # beta = exp(-1e-3/10e-3), c = 1 - beta; v0 = 0.
    # step 1: h1 = c*15 = 1.4274 >= 1 -> spike, v1 = h1 - 1; step 2: h2 = beta*v1 + c*2 < 1 -> no spike.
    p = LIFParams(tau_mem=10e-3, v_th=1.0, surrogate=Surrogate("fast_sigmoid", alpha=2.0))
    beta = math.exp(-0.1)
    c = 1.0 - beta
    x = torch.tensor([[15.0], [2.0]], dtype=torch.float64, requires_grad=True)
    s, st = lif_cpu.lif_sequence_cpu(x, None, p, 1e-3)
    h1, h2 = 15 * c, beta * (15 * c - 1.0) + 2 * c
    assert s.flatten().tolist() == [1.0, 0.0]
    assert abs(float(st.v.detach()) - h2) < 1e-12
    s[1].sum().backward()  # d s2 / d x: through h2 directly and through v1 = h1 - s1 (subtract reset)
    sg = lambda d: 1.0 / (1.0 + 2.0 * abs(d)) ** 2  # noqa: E731
    g_h2 = sg(h2 - 1.0)
    g_h1 = beta * g_h2 * (1.0 - sg(h1 - 1.0))  # dv1/dh1 = 1 - ds1/dh1
    torch.testing.assert_close(x.grad.flatten(), torch.tensor([c * g_h1, c * g_h2], dtype=torch.float64))


def test_bfloat16_computes_in_float32(contract) -> None:
    params = LIFParams()
    x, _, _, _ = contract.make_inputs("lif", (10, 3, 8), dtype=torch.bfloat16, seed=4)
    s, st = lif_cpu.lif_sequence_cpu(x, None, params, contract.DT)
    ref_s, ref_st = get_backend("lif_sequence", "cpu", name="reference")(x.float(), None, params, contract.DT)
    assert s.dtype == torch.bfloat16 and st.v.dtype == torch.bfloat16
    assert torch.equal(s.float(), ref_s)
    torch.testing.assert_close(st.v.float(), ref_st.v, rtol=1e-2, atol=1e-2)
    xg = x.clone().requires_grad_()
    lif_cpu.lif_sequence_cpu(xg, None, params, contract.DT)[0].sum().backward()
    assert xg.grad.dtype == torch.bfloat16 and torch.isfinite(xg.grad.float()).all()


@pytest.mark.parametrize("model", ["lif", "alif"])
def test_refractory_and_mismatched_state_delegate_to_reference(contract, model) -> None:
    P, S = contract.MODELS[model]
    params = P(t_ref=2e-3)
    x, state, w_s, w_state = contract.make_inputs(model, (15, 2, 6), seed=9)
    want = contract.run(model, "reference", x, params, state, (w_s, w_state))
    got = contract.run(model, "cpu_fused", x, params, state, (w_s, w_state))
    contract.assert_same(got, want)  # identical: the same code ran
    p2 = P()
    half = S(*[t.double() for t in state])  # float64 state with float32 input: reference promotes
    s_ref, st_ref = get_backend(f"{model}_sequence", "cpu", name="reference")(x, half, p2, contract.DT)
    s_got, st_got = get_backend(f"{model}_sequence", "cpu", name="cpu_fused")(x, half, p2, contract.DT)
    assert torch.equal(s_ref, s_got) and torch.equal(st_ref.v, st_got.v)


def test_initial_state_only_gradient_and_final_state_only_loss(contract) -> None:
    params = LIFParams(reset="zero")
    x, state, _, _ = contract.make_inputs("lif", (8, 2, 5), seed=1)
    outs = []
    for backend in ("reference", "cpu_fused"):
        v0 = state.v.clone().requires_grad_()
        _, st = get_backend("lif_sequence", "cpu", name=backend)(x, LIFState(v0, state.ref), params, contract.DT)
        (st.v * torch.arange(5.0)).sum().backward()  # spikes unused: their gradient is None
        outs.append(v0.grad)
    contract.assert_grad_close(outs[1], outs[0])


def test_registered_for_cpu_and_selected_by_lif_module() -> None:
    assert available_backends("lif_sequence", "cpu")[0] == "cpu_fused"
    assert available_backends("alif_sequence", "cpu")[0] == "cpu_fused"
    assert get_backend("lif_sequence", "cpu") is lif_cpu.lif_sequence_cpu
    assert "cpu_fused" not in available_backends("lif_sequence", "meta")
    x = torch.rand(5, 2, 3) * 30
    s_default, _ = LIF()(x)
    s_ref, _ = LIF(backend="reference")(x)
    assert torch.equal(s_default, s_ref)


def test_env_forces_reference(monkeypatch) -> None:
    monkeypatch.setenv("NEUROPLASTIC_BACKEND", "reference")
    assert get_backend("lif_sequence", "cpu") is not lif_cpu.lif_sequence_cpu


def test_engine_env_validation(monkeypatch) -> None:
    monkeypatch.setenv(lif_cpu.ENGINE_ENV, "fast")
    with pytest.raises(ValueError, match="choose auto, c or torch"):
        lif_cpu.cpu_engine(Surrogate())


def test_missing_compiler_falls_back_to_torch_engine(contract, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setenv("NEUROPLASTIC_CACHE_DIR", str(tmp_path / "cache"))
    _ccompile.clear_loaded()
    try:
        with pytest.warns(RuntimeWarning, match="install a C compiler|Install a C compiler"):
            engine = lif_cpu.cpu_engine(Surrogate())
        assert engine.__name__.endswith("_lif_torch")
        monkeypatch.setenv(lif_cpu.ENGINE_ENV, "c")
        with pytest.raises(RuntimeError, match="NEUROPLASTIC_CPU_KERNEL=auto"):
            lif_cpu.cpu_engine(Surrogate())
        monkeypatch.setenv(lif_cpu.ENGINE_ENV, "auto")
        params = LIFParams()
        x, state, w_s, w_state = contract.make_inputs("lif", (6, 2, 4), seed=3)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # warned once already: no repeat
            got = contract.run("lif", "cpu_fused", x, params, state, (w_s, w_state))
        contract.assert_same(got, contract.run("lif", "reference", x, params, state, (w_s, w_state)))
    finally:
        _ccompile.clear_loaded()


@pytest.mark.parametrize("model", ["lif", "alif"])
@pytest.mark.parametrize("openmp", [True, False], ids=["openmp", "thread-pool"])
def test_column_blocks_on_threads_match_reference(contract, model, openmp, monkeypatch) -> None:
    if not _lif_c.available():
        pytest.skip("no C compiler")
    lib = _lif_c._lib()
    if openmp and not lib._np_openmp:
        pytest.skip("the C kernels were built without OpenMP here")
    monkeypatch.setattr(lib, "_np_openmp", openmp)  # False: the thread-pool fallback
    monkeypatch.setenv(lif_cpu.ENGINE_ENV, "c")
    monkeypatch.setattr(_lif_c, "MIN_PARALLEL_ELEMENTS", 0)
    threads = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        params = contract.MODELS[model][0](reset="zero")
        x, state, w_s, w_state = contract.make_inputs(model, (6, 2, 401), seed=8)  # N = 802: 3 uneven blocks
        want = contract.run(model, "reference", x, params, state, (w_s, w_state))
        contract.assert_same(contract.run(model, "cpu_fused", x, params, state, (w_s, w_state)), want)
    finally:
        torch.set_num_threads(threads)


def test_optional_build_flags_fall_back_when_the_compiler_rejects_them(tmp_path, monkeypatch) -> None:
    if _ccompile._compiler() is None:
        pytest.skip("no C compiler")
    monkeypatch.setenv("NEUROPLASTIC_CACHE_DIR", str(tmp_path))
    src = "#ifdef _OPENMP\nint np_flag(void) { return 1; }\n#else\nint np_flag(void) { return 0; }\n#endif\n"
    lib = _ccompile.build_and_load("np_test_optional_bad", src, optional_flags=("-fno-such-flag-np",))
    assert lib is not None and lib.np_flag() == 0  # built again without the rejected flag
    lib = _ccompile.build_and_load("np_test_optional_omp", src, optional_flags=("-fopenmp",))
    assert lib is not None and lib.np_flag() in (0, 1)  # 1 where the compiler supports OpenMP


@pytest.mark.parametrize("model", ["lif", "alif"])
@pytest.mark.parametrize("T", [1, 7, 8, 9, 17, 64])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_checkpointed_backward_matches_reference_at_segment_edges(contract, model, T, reset, monkeypatch) -> None:
    # The C kernels save the state every _lif_c.CHECKPOINT steps and recompute the rest in
    # backward: sequences shorter than, equal to, one past and several segments long, with a
    # given initial state and gradients through the final state too.
    if not _lif_c.available():
        pytest.skip("no C compiler")
    monkeypatch.setenv(lif_cpu.ENGINE_ENV, "c")
    assert _lif_c.CHECKPOINT == 8  # the T values above straddle its segment edges
    params = contract.MODELS[model][0](reset=reset)
    x, state, w_s, w_state = contract.make_inputs(model, (T, 3, 5), seed=T)
    want = contract.run(model, "reference", x, params, state, (w_s, w_state))
    contract.assert_same(contract.run(model, "cpu_fused", x, params, state, (w_s, w_state)), want)
