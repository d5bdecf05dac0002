"""Contract of the event-driven dense product ("spike_linear", backend "cpu_event") against F.linear."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from neuroplastic._core.registry import available_backends, get_backend
from neuroplastic.kernels import _spike_c
from neuroplastic.synapses import Dense

pytestmark = pytest.mark.skipif(not _spike_c.available(), reason="no C compiler: the kernel cannot be built here")

SHAPES = [  # (leading dims of x, K inputs, N outputs): rows and outputs on and off the 64-wide tiles
    ((1,), 1, 1), ((3,), 5, 7), ((64,), 64, 64), ((65,), 130, 129), ((7, 19), 33, 200), ((4, 8, 3), 300, 65),
]


def _case(lead, K, N, density, seed, bias=True):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(*lead, K, generator=g) < density).float()
    w = torch.randn(N, K, generator=g, dtype=torch.float64)
    b = torch.randn(N, generator=g, dtype=torch.float64) if bias else None
    return x, w, b


def _fwd_bwd(fn, x, w, b, gout, x_grad=False):
    x = x.clone().requires_grad_(x_grad)
    w = w.clone().requires_grad_(True)
    b = None if b is None else b.clone().requires_grad_(True)
    y = fn(x, w, b)
    y.backward(gout)
    return y.detach(), w.grad, None if b is None else b.grad, x.grad if x_grad else None


@pytest.mark.parametrize("lead,K,N", SHAPES)
@pytest.mark.parametrize("density", [0.0, 0.2, 1.0])
@pytest.mark.parametrize("bias", [True, False])
def test_matches_the_dense_product_in_float64(lead, K, N, density, bias):
    """float32 event-driven vs float64 dense: forward and gradients within float32 rounding."""
    x, w64, b64 = _case(lead, K, N, density, seed=K + N, bias=bias)
    gout = torch.randn(*lead, N, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    fn = get_backend("spike_linear", "cpu", name="cpu_event")
    y, gw, gb, _ = _fwd_bwd(fn, x, w64.float(), None if b64 is None else b64.float(), gout.float())
    y_ref, gw_ref, gb_ref, _ = _fwd_bwd(F.linear, x.double(), w64, b64, gout)
    tol = 1e-5 * max(1.0, float(y_ref.abs().max()))
    assert (y.double() - y_ref).abs().max() <= tol
    assert (gw.double() - gw_ref).abs().max() <= 1e-5 * max(1.0, float(gw_ref.abs().max()))
    if bias:
        assert (gb.double() - gb_ref).abs().max() <= 1e-5 * max(1.0, float(gb_ref.abs().max()))


def test_hand_computed_case():
    x = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    w = torch.tensor([[1.0, 2.0, 4.0], [8.0, 16.0, 32.0]])
    b = torch.tensor([0.5, -0.5])
    y = get_backend("spike_linear", "cpu", name="cpu_event")(x, w, b)
    assert y.tolist() == [[5.5, 39.5], [0.5, -0.5], [2.5, 15.5]]
    g = torch.tensor([[1.0, 0.0], [5.0, 7.0], [0.0, 2.0]])
    w.requires_grad_(True)
    get_backend("spike_linear", "cpu", name="cpu_event")(x, w, None).backward(g)
    assert w.grad.tolist() == (g.T @ x).tolist() == [[1.0, 0.0, 1.0], [0.0, 2.0, 0.0]]


def test_input_gradient_and_float32_reference_agree():
    x, w64, b64 = _case((6, 9), 50, 70, 0.3, seed=3)
    w, b = w64.float(), b64.float()
    gout = torch.randn(6, 9, 70, generator=torch.Generator().manual_seed(4))
    got = _fwd_bwd(get_backend("spike_linear", "cpu", name="cpu_event"), x, w, b, gout, x_grad=True)
    want = _fwd_bwd(F.linear, x, w, b, gout, x_grad=True)
    for a, e in zip(got, want):
        torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-5)


def test_graded_or_non_float32_input_gets_the_dense_product():
    fn = get_backend("spike_linear", "cpu", name="cpu_event")
    x, w64, b64 = _case((10,), 20, 30, 0.5, seed=5)
    x[3, 4] = 0.5                                   # not a spike: the event-driven sum would be wrong
    w, b = w64.float(), b64.float()
    assert torch.equal(fn(x, w, b), F.linear(x, w, b))
    assert _spike_c.masks(x.contiguous()) is None
    assert torch.equal(fn(x.double(), w64, b64), F.linear(x.double(), w64, b64))


def test_non_contiguous_input():
    x, w64, b64 = _case((12, 40), 1, 1, 0.3, seed=6)
    x = (torch.rand(40, 12, generator=torch.Generator().manual_seed(7)) < 0.3).float().t()   # [12, 40] strided
    w = torch.randn(17, 40, generator=torch.Generator().manual_seed(8))
    got = get_backend("spike_linear", "cpu", name="cpu_event")(x, w, None)
    torch.testing.assert_close(got, F.linear(x, w), rtol=1e-5, atol=1e-5)


def test_dense_layer_uses_it_and_keeps_linear_semantics():
    assert "cpu_event" in available_backends("spike_linear", "cpu")
    torch.manual_seed(0)
    layer = Dense(40, 24, spike_input=True)
    ref = Dense(40, 24)
    ref.load_state_dict(layer.state_dict())          # same parameters: checkpoints are unchanged
    x = (torch.rand(5, 3, 40) < 0.25).float()
    torch.testing.assert_close(layer(x), ref(x), rtol=1e-5, atol=1e-6)
    assert "spike_input=True" in repr(layer)
    with pytest.raises(ValueError, match="backend 'nope' is not available.*reference"):
        Dense(4, 4, spike_input=True, backend="nope")(torch.zeros(2, 4))


# ----------------------------------------------------------------- CUDA backend "cuda_bf16x3"
from neuroplastic.kernels.spike_linear import bf16x3_linear, split3  # noqa: E402


def _emulated_mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """bf16 x bf16 -> float32 output, as cuBLAS computes it up to the accumulation order."""
    return (a.double() @ b.double()).float()


def test_split3_is_exact_over_a_wide_range():
    g = torch.Generator().manual_seed(0)
    t = torch.randn(5000, generator=g) * torch.exp2(torch.randint(-30, 30, (5000,), generator=g).float())
    p1, p2, p3 = split3(t)
    assert all(p.dtype == torch.bfloat16 for p in (p1, p2, p3))
    assert torch.equal(p1.double() + p2.double() + p3.double(), t.double())


@pytest.mark.parametrize("x_grad", [False, True])
def test_bf16x3_product_matches_float64(x_grad):
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(9, 4, 150, generator=g) < 0.25).float()
    w64 = torch.randn(70, 150, generator=g, dtype=torch.float64) * 0.1
    b64 = torch.randn(70, generator=g, dtype=torch.float64)
    gout = torch.randn(9, 4, 70, generator=g, dtype=torch.float64)
    got = _fwd_bwd(lambda a, w, b: bf16x3_linear(a, w, b, mm=_emulated_mm), x, w64.float(), b64.float(),
                   gout.float(), x_grad=x_grad)
    want = _fwd_bwd(F.linear, x.double(), w64, b64, gout, x_grad=x_grad)
    for a, e in zip(got, want):
        if e is not None:
            assert (a.double() - e).abs().max() <= 1e-5 * max(1.0, float(e.abs().max()))


def test_bf16x3_backward_in_row_blocks_matches_one_block(monkeypatch):
    """grad_W is accumulated over row blocks of the output gradient (to bound the split's memory);
    blocks of 7 rows (uneven last block) must give the same sums as one block, to rounding."""
    import neuroplastic.kernels.spike_linear as sl
    g = torch.Generator().manual_seed(2)
    x = (torch.rand(40, 90, generator=g) < 0.3).float()
    w = torch.randn(33, 90, generator=g)
    gout = torch.randn(40, 33, generator=g)
    one = _fwd_bwd(lambda a, ww, b: bf16x3_linear(a, ww, b, mm=_emulated_mm), x, w, None, gout)
    monkeypatch.setattr(sl, "_SPLIT_BLOCK_BYTES", 7 * 4 * 33)
    calls = []
    mm = lambda a, b: calls.append(a.shape) or _emulated_mm(a, b)  # noqa: E731
    blocked = _fwd_bwd(lambda a, ww, b: bf16x3_linear(a, ww, b, mm=mm), x, w, None, gout)
    assert len(calls) == 1 + 3 * 6                    # forward + 3 parts x ceil(40 / 7) blocks
    torch.testing.assert_close(blocked[1], one[1], rtol=1e-6, atol=1e-5)
    want = (gout.double().t() @ x.double()).float()
    torch.testing.assert_close(blocked[1], want, rtol=1e-5, atol=1e-5)


def test_bf16x3_takes_the_dense_path_for_values_bf16_cannot_hold():
    x = torch.full((3, 8), 0.1)                       # 0.1 is not a bfloat16 number
    w = torch.randn(5, 8)
    calls = []
    out = bf16x3_linear(x, w, None, mm=lambda a, b: calls.append(1) or _emulated_mm(a, b))
    assert not calls and torch.equal(out, F.linear(x, w))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_backend_is_available_and_matches_float64():
    assert "cuda_bf16x3" in available_backends("spike_linear", "cuda")
    x, w64, b64 = _case((50, 30), 300, 500, 0.2, seed=9)
    gout = torch.randn(50, 30, 500, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    fn = get_backend("spike_linear", "cuda", name="cuda_bf16x3")
    got = _fwd_bwd(fn, x.cuda(), w64.float().cuda(), b64.float().cuda(), gout.float().cuda())
    want = _fwd_bwd(F.linear, x.double(), w64, b64, gout)
    for a, e in zip(got, want):
        if e is not None:
            assert (a.double().cpu() - e).abs().max() <= 1e-5 * max(1.0, float(e.abs().max()))


@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")  # torch's own import
def test_torch_compile_runs_the_kernel_eagerly_and_gives_the_eager_result():
    torch.manual_seed(0)
    layer = Dense(50, 30, spike_input=True)
    x = (torch.rand(10, 4, 50) < 0.3).float()

    def f(inp):
        return (layer(inp) * torch.linspace(-1, 1, 30)).sum()

    want = f(x)
    (gw_want,) = torch.autograd.grad(want, layer.weight)
    torch._dynamo.reset()
    got = torch.compile(f)(x)
    (gw,) = torch.autograd.grad(got, layer.weight)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(gw, gw_want)
