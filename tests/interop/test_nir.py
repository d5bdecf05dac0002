"""NIR import/export against an independent NumPy simulation of NIR's equations.

The reference below integrates NIR's continuous-time neurons with forward Euler, written from
NIR's node definitions (tau dv/dt = (v_leak - v) + R I; tau_syn dI/dt = -I + w_in S; spike when
v > v_threshold, then v = v_reset), starting at v = v_leak and I = 0.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

nir = pytest.importorskip("nir")

from neuroplastic.interop import Scale, from_nir, to_nir  # noqa: E402
from neuroplastic.network import Sequential  # noqa: E402
from neuroplastic.neurons import ALIF, IF, LI, LIF, CubaLIF  # noqa: E402
from neuroplastic.synapses import AvgPool2d, Conv2d, Dense, Flatten, MaxPool2d, RecurrentLIF  # noqa: E402


# ------------------------------------------------------------------------- NumPy reference

def ref_affine(x, w, b):
    return x @ w.T + b


def ref_lif(current, tau, r, v_leak, v_th, v_reset, dt):
    v = np.broadcast_to(v_leak, current.shape[1:]).astype(np.float64).copy()
    out = np.zeros_like(current)
    for t in range(current.shape[0]):
        v = v + dt / tau * (v_leak - v + r * current[t])
        z = v > v_th
        v = np.where(z, v_reset, v)
        out[t] = z
    return out


def ref_li(current, tau, r, v_leak, dt):
    v = np.broadcast_to(v_leak, current.shape[1:]).astype(np.float64).copy()
    out = np.zeros_like(current)
    for t in range(current.shape[0]):
        v = v + dt / tau * (v_leak - v + r * current[t])
        out[t] = v
    return out


def ref_cuba(x, tau_syn, tau_mem, r, v_leak, v_th, v_reset, w_in, dt):
    v = np.broadcast_to(v_leak, x.shape[1:]).astype(np.float64).copy()
    i = np.zeros(x.shape[1:])
    out = np.zeros_like(x)
    for t in range(x.shape[0]):
        v, i = v + dt / tau_mem * (v_leak - v + r * i), i + dt / tau_syn * (-i + w_in * x[t])
        z = v > v_th
        v = np.where(z, v_reset, v)
        out[t] = z
    return out


RNG = np.random.default_rng(7)
DT = 1e-3


def _graph(*nodes):
    return nir.NIRGraph.from_list(*nodes)


def _run(net, x):
    with torch.no_grad():
        y, _ = net(torch.from_numpy(x))
    return y.numpy()


# --------------------------------------------------------------------------------- import

def test_euler_import_matches_reference_two_layers_per_neuron_time_constants() -> None:
    w1, b1 = RNG.normal(0, 0.5, (6, 4)), RNG.uniform(0.8, 1.5, 6)
    w2, b2 = RNG.normal(0, 0.8, (3, 6)), RNG.normal(0.5, 0.1, 3)
    lif1 = dict(tau=RNG.uniform(3e-3, 30e-3, 6), r=RNG.uniform(0.5, 2.0, 6), v_leak=RNG.uniform(-0.1, 0.1, 6),
                v_threshold=RNG.uniform(0.3, 1.0, 6), v_reset=RNG.uniform(-0.2, 0.0, 6))
    lif2 = dict(tau=np.array([2e-3, 8e-3, 40e-3]), r=np.array([3.0, 1.0, 2.0]), v_leak=np.zeros(3),
                v_threshold=np.array([0.2, 0.5, 0.3]), v_reset=np.zeros(3))
    graph = _graph(nir.Affine(w1, b1), nir.LIF(**lif1), nir.Affine(w2, b2), nir.LIF(**lif2))
    x = RNG.uniform(0, 2, (80, 5, 4))
    net = from_nir(graph, dt=DT, integration="euler").double()
    with torch.no_grad():
        _, _, outs = net.forward_record(torch.from_numpy(x))
    s1 = ref_lif(ref_affine(x, w1, b1), dt=DT, **{k if k != "v_threshold" else "v_th": v for k, v in lif1.items()})
    s2 = ref_lif(ref_affine(s1, w2, b2), dt=DT, **{k if k != "v_threshold" else "v_th": v for k, v in lif2.items()})
    assert 0.05 < s1.mean() < 0.9 and 0.02 < s2.mean() < 0.9
    np.testing.assert_allclose(outs[1].numpy(), s1, rtol=0, atol=1e-6)
    np.testing.assert_allclose(outs[3].numpy(), s2, rtol=0, atol=1e-6)


def test_euler_import_of_cuba_lif_and_li_matches_reference() -> None:
    w1, b1 = RNG.normal(0, 1.0, (5, 3)), np.full(5, 0.2)
    cuba = dict(tau_syn=RNG.uniform(2e-3, 10e-3, 5), tau_mem=RNG.uniform(5e-3, 20e-3, 5), r=RNG.uniform(1, 3, 5),
                v_leak=np.zeros(5), v_threshold=RNG.uniform(0.1, 0.4, 5), v_reset=np.zeros(5),
                w_in=RNG.uniform(0.5, 2, 5))
    w2, b2 = RNG.normal(0, 1.0, (2, 5)), np.zeros(2)
    li = dict(tau=np.array([5e-3, 20e-3]), r=np.array([1.0, 2.0]), v_leak=np.array([0.1, -0.1]))
    graph = _graph(nir.Affine(w1, b1), nir.CubaLIF(**cuba), nir.Affine(w2, b2), nir.LI(**li))
    x = RNG.uniform(0, 2, (120, 4, 3))
    net = from_nir(graph, dt=DT, integration="euler").double()
    with torch.no_grad():
        y, _, outs = net.forward_record(torch.from_numpy(x))
    s = ref_cuba(ref_affine(x, w1, b1), cuba["tau_syn"], cuba["tau_mem"], cuba["r"], cuba["v_leak"],
                 cuba["v_threshold"], cuba["v_reset"], cuba["w_in"], DT)
    assert 0.02 < s.mean() < 0.9
    np.testing.assert_allclose(outs[-3].numpy(), s, rtol=0, atol=1e-6)
    np.testing.assert_allclose(y.numpy(), ref_li(ref_affine(s, w2, b2), dt=DT, **li), rtol=0, atol=1e-6)


def test_exact_import_integrates_exactly() -> None:
    # LI under constant input: v(t) = v_leak + R I (1 - e^{-t/tau}) at every step, any dt.
    tau, r = np.array([4e-3, 30e-3]), np.array([1.0, 2.5])
    graph = _graph(nir.Linear(np.eye(2)), nir.LI(tau=tau, r=r, v_leak=np.zeros(2)))
    dt, T = 2e-3, 20
    y = _run(from_nir(graph, dt=dt, integration="exact").double(), np.full((T, 1, 2), 0.7))
    t = np.arange(1, T + 1).reshape(T, 1, 1) * dt
    np.testing.assert_allclose(y, r * 0.7 * (1 - np.exp(-t / tau)), rtol=1e-12, atol=1e-12)


def test_snntorch_convention_imports_with_decay_beta() -> None:
    # snnTorch exports Leaky(beta) as tau = dt / (1 - beta), r = tau / dt at dt = 1e-4, and
    # Synaptic(alpha, beta) adds tau_syn = dt / (1 - alpha), w_in = tau_syn / dt.
    dt, beta, alpha = 1e-4, np.array([0.9, 0.8, 0.5]), np.array([0.7, 0.6, 0.95])
    tau = dt / (1 - beta)
    leaky = nir.LIF(tau=tau, r=tau / dt, v_leak=np.zeros(3), v_threshold=np.ones(3), v_reset=np.zeros(3))
    tau_syn = dt / (1 - alpha)
    syn = nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau, r=tau / dt, v_leak=np.zeros(3), v_threshold=np.ones(3),
                      v_reset=np.zeros(3), w_in=tau_syn / dt)
    net = from_nir(_graph(nir.Linear(np.eye(3)), leaky, nir.Linear(np.eye(3)), syn), dt=dt, integration="euler")
    lif = net[1]
    torch.testing.assert_close(torch.as_tensor(lif.params.decay(dt)), torch.from_numpy(beta), rtol=1e-12, atol=0)
    torch.testing.assert_close((1 - lif.params.decay(dt)) * lif.params.r, torch.ones(3, dtype=torch.float64))
    cuba = next(m for m in net if isinstance(m, CubaLIF))
    k = cuba.params.constants(dt)
    torch.testing.assert_close(k.a, torch.from_numpy(beta), rtol=1e-12, atol=0)
    torch.testing.assert_close(k.c_exc, torch.from_numpy(alpha), rtol=1e-12, atol=0)
    # snnTorch's recursion mem' = beta mem + x: one sub-threshold input x at t = 0 then nothing.
    x = np.zeros((4, 1, 3))
    x[0] = 0.5
    with torch.no_grad():
        _, state = net[1](torch.from_numpy(x))
    np.testing.assert_allclose(state.v.numpy()[0], 0.5 * beta ** 3, rtol=1e-12)


def test_norse_convention_imports_with_euler_decays() -> None:
    # Norse exports LIFBoxCell as LIF(tau = 1 / tau_mem_inv, r = 1) and LIFCell as CubaLIF
    # (tau_syn = 1 / tau_syn_inv, w_in = 1); Norse steps forward Euler at dt = 1e-3.
    dt = 1e-3
    box = nir.LIF(tau=np.full(2, 1 / 100.0), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2), v_reset=np.zeros(2))
    cell = nir.CubaLIF(tau_syn=np.full(2, 1 / 200.0), tau_mem=np.full(2, 1 / 100.0), r=np.ones(2), v_leak=np.zeros(2),
                       v_threshold=np.ones(2), v_reset=np.zeros(2), w_in=np.ones(2))
    net = from_nir(_graph(nir.Linear(np.eye(2)), box, nir.Linear(np.eye(2)), cell), dt=dt, integration="euler")
    assert net[1].params.decay(dt) == pytest.approx(0.9, rel=1e-12)
    assert (1 - net[1].params.decay(dt)) * net[1].params.r == pytest.approx(0.1, rel=1e-12)
    k = next(m for m in net if isinstance(m, CubaLIF)).params.constants(dt)
    assert k.a == pytest.approx(0.9, rel=1e-12) and k.c_exc == pytest.approx(0.8, rel=1e-12)


# ------------------------------------------------------------------------------ round trip

def _roundtrip(net, x, tmp_path, **kw):
    path = tmp_path / "net.nir"
    to_nir(net, torch.as_tensor(x[:1]), path=path, **kw)
    back = from_nir(path).double()  # dt from the file's metadata
    with torch.no_grad():
        return net(x)[0], back(x)[0], back


def test_dense_network_round_trips_through_a_file_identically(tmp_path) -> None:
    torch.manual_seed(0)
    net = Sequential(Dense(4, 6), LIF(tau_mem=torch.linspace(3e-3, 20e-3, 6), v_th=torch.linspace(0.2, 0.6, 6),
                                      reset="zero", r=2.0),
                     Dense(6, 5), CubaLIF(tau_mem=10e-3, tau_syn_exc=torch.linspace(2e-3, 8e-3, 5), v_rest=0.0,
                                          v_reset=0.0, v_th=0.05, t_ref=0.0),
                     Dense(5, 3), IF(v_th=torch.tensor([0.5, 1.0, 1.5]), reset="zero"),
                     Dense(3, 2), LI(tau_mem=torch.tensor([5e-3, 15e-3]))).double()
    x = torch.rand(60, 3, 4, dtype=torch.float64) * 2
    y, y2, back = _roundtrip(net, x, tmp_path)
    with torch.no_grad():
        _, _, outs = net.forward_record(x)
    assert all(float(outs[i].mean()) > 0.01 for i in (1, 3, 5))
    assert not any(isinstance(m, Scale) for m in back)
    assert torch.equal(y, y2)


def test_conv_and_recurrent_networks_round_trip(tmp_path) -> None:
    torch.manual_seed(1)
    conv = Sequential(Conv2d(2, 3, 3, padding=1), LIF(reset="zero"), AvgPool2d(2), Flatten(), Dense(3 * 2 * 2, 4),
                      LIF(reset="zero")).double()
    x = torch.rand(10, 2, 2, 4, 4, dtype=torch.float64) * 3
    y, y2, _ = _roundtrip(conv, x, tmp_path)
    assert y.sum() > 0 and torch.equal(y, y2)
    rec = Sequential(RecurrentLIF(3, 5, reset="zero", v_th=0.3), Dense(5, 2), LI()).double()
    xr = torch.rand(30, 2, 3, dtype=torch.float64) * 2
    y, y2, back = _roundtrip(rec, xr, tmp_path)
    assert isinstance(back[0], RecurrentLIF)
    torch.testing.assert_close(y2, y, rtol=1e-12, atol=1e-12)


def test_snntorch_style_nested_recurrent_subgraph_imports() -> None:
    # RLeaky exports as a subgraph {input, lif, w_rec, output} after the Affine feeding it.
    w_rec = RNG.normal(0, 0.5, (3, 3))
    sub = nir.NIRGraph(nodes={"input": nir.Input(np.array([3])), "lif": nir.LIF(tau=np.full(3, 5e-3), r=np.ones(3),
                                                                                 v_leak=np.zeros(3), v_threshold=np.full(3, 0.2),
                                                                                 v_reset=np.zeros(3)),
                              "w_rec": nir.Linear(w_rec), "output": nir.Output(np.array([3]))},
                       edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")])
    w_ff = RNG.normal(0, 1, (3, 2))
    graph = nir.NIRGraph(nodes={"input": nir.Input(np.array([2])), "ff": nir.Linear(w_ff), "rlif": sub,
                                "output": nir.Output(np.array([3]))},
                         edges=[("input", "ff"), ("ff", "rlif"), ("rlif", "output")])
    net = from_nir(graph, dt=1e-3, integration="euler").double()
    x = RNG.uniform(0, 2, (40, 2, 2))
    # Reference: I_t = W_ff x_t + W_rec s_{t-1}, Euler LIF.
    v, s, out = np.zeros((2, 3)), np.zeros((2, 3)), []
    for t in range(40):
        v = v + 1e-3 / 5e-3 * (0 - v + x[t] @ w_ff.T + s @ w_rec.T)
        s = (v > 0.2).astype(float)
        v = np.where(s > 0, 0.0, v)
        out.append(s)
    assert isinstance(net[0], RecurrentLIF)
    np.testing.assert_allclose(_run(net, x), np.stack(out), rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------- bad input

def test_unsupported_node_names_the_node_and_what_is_supported() -> None:
    graph = nir.NIRGraph(nodes={"input": nir.Input(np.array([2])), "lin": nir.Linear(np.eye(2)),
                                "wait": nir.Delay(np.ones(2)), "output": nir.Output(np.array([2]))},
                         edges=[("input", "lin"), ("lin", "wait"), ("wait", "output")])
    with pytest.raises(ValueError, match=r"NIR node 'wait' of type Delay has no neuroplastic counterpart: "
                                         r"supported node types are Input, Output, Affine.*LIF"):
        from_nir(graph, dt=1e-3)


def test_malformed_or_missing_file_gives_a_clear_error(tmp_path) -> None:
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"this is not HDF5")
    with pytest.raises(ValueError, match="is not a readable NIR file"):
        from_nir(bad, dt=1e-3)
    with pytest.raises(FileNotFoundError, match="no NIR file at"):
        from_nir(tmp_path / "missing.nir", dt=1e-3)
    graph = _graph(nir.Linear(np.eye(2)), nir.LI(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2)))
    with pytest.raises(ValueError, match="needs the step dt"):
        from_nir(graph)
    with pytest.raises(ValueError, match="unknown integration"):
        from_nir(graph, dt=1e-3, integration="rk4")
    tiny = _graph(nir.Linear(np.eye(2)), nir.LI(tau=np.full(2, 1e-4), r=np.ones(2), v_leak=np.zeros(2)))
    with pytest.raises(ValueError, match="needs tau > dt"):
        from_nir(tiny, dt=1e-3, integration="euler")


def test_export_refuses_what_nir_cannot_express() -> None:
    with pytest.raises(ValueError, match="reset='subtract', which NIR cannot express.*reset='zero'.*approximate_reset=True"):
        to_nir(Sequential(Dense(2, 3), LIF()))
    with pytest.warns(UserWarning, match="exported as a reset to v_reset"):
        g = to_nir(Sequential(Dense(2, 3), LIF()), approximate_reset=True)
    assert isinstance(g.nodes["1"], nir.LIF)
    with pytest.raises(ValueError, match=r"layer 1 \(ALIF\) has no NIR node"):
        to_nir(Sequential(Dense(2, 3), ALIF(reset="zero")))
    with pytest.raises(ValueError, match=r"MaxPool2d\) has no NIR node: use AvgPool2d"):
        to_nir(Sequential(Conv2d(1, 1, 3), MaxPool2d(2)), torch.zeros(1, 1, 1, 6, 6))
    with pytest.raises(ValueError, match="t_ref=0.002"):
        to_nir(Sequential(Dense(2, 3), LIF(reset="zero", t_ref=2e-3)))


def test_conv1d_sumpool_scale_and_partial_flatten_round_trip(tmp_path) -> None:
    from neuroplastic.interop import Conv1d, FlattenDims, SumPool2d

    torch.manual_seed(2)
    net1 = Sequential(Conv1d(2, 3, 3, padding=1), LIF(reset="zero"), Flatten(), Dense(3 * 8, 4),
                      Scale(torch.tensor([0.5, 1.0, 2.0, 4.0])), LIF(reset="zero")).double()
    x1 = torch.rand(12, 2, 2, 8, dtype=torch.float64) * 3
    y, y2, back = _roundtrip(net1, x1, tmp_path)
    assert y.sum() > 0 and torch.equal(y, y2) and isinstance(back[0], Conv1d)
    net2 = Sequential(Conv2d(1, 2, 3, padding=1), LIF(reset="zero"), SumPool2d(2), FlattenDims(1, 2),
                      LIF(reset="zero", v_th=0.2)).double()
    x2 = torch.rand(6, 2, 1, 4, 4, dtype=torch.float64) * 3
    y, y2, back = _roundtrip(net2, x2, tmp_path)
    assert y.shape == (6, 2, 2, 4) and y.sum() > 0 and torch.equal(y, y2)
    # Sum pooling is k*k times average pooling (independent of the NIR path).
    frames = torch.rand(3, 2, 1, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(SumPool2d(2)(frames), 4 * AvgPool2d(2)(frames))


def test_graph_network_exports_populations_projections_and_delays(tmp_path) -> None:
    from neuroplastic.network import Network

    net = Network(dt=1e-4)
    net.add_source("in", 3, indices=[0, 2], steps=[1, 4])
    net.add_population("a", 4, t_ref=0.0, v_rest=0.0, v_reset=0.0, v_th=1.0, tau_syn_inh=5e-3)
    net.add_population("b", 2, t_ref=0.0, v_rest=0.0, v_reset=0.0, v_th=1.0)
    w_in_a = torch.arange(12, dtype=torch.float64).view(3, 4) / 10
    w_a_b = torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.5, 0.0], [0.0, 0.0]], dtype=torch.float64)
    net.connect("in", "a", w_in_a)
    net.connect("a", "b", w_a_b, delay_steps=3)
    path = tmp_path / "graph.nir"
    to_nir(net, path=path)
    g = nir.read(path)
    assert isinstance(g.nodes["in"], nir.Input) and isinstance(g.nodes["a"], nir.CubaLIF)
    np.testing.assert_array_equal(g.nodes["in->a"].weight, w_in_a.T.numpy())
    np.testing.assert_array_equal(g.nodes["a->b"].weight, w_a_b.T.numpy())
    np.testing.assert_allclose(g.nodes["a->b.delay"].delay, np.full(2, 3e-4))
    np.testing.assert_allclose(g.nodes["a"].w_in, np.full(4, 5e-3 / 1e-4))
    assert {tuple(e) for e in g.edges} >= {("in", "in->a"), ("in->a", "a"), ("a", "a->b"), ("a->b", "a->b.delay"),
                                           ("a->b.delay", "b"), ("b", "b.out")}
    refr = Network(dt=1e-4)
    refr.add_population("p", 2)  # CUBA benchmark defaults: t_ref = 5 ms
    with pytest.raises(ValueError, match="population 'p' has t_ref=0.005: NIR neurons have no refractory period"):
        to_nir(refr)


def test_missing_optional_packages_name_the_extra(monkeypatch) -> None:
    import sys

    from neuroplastic.interop import to_onnx

    monkeypatch.setitem(sys.modules, "nir", None)  # import nir now raises ImportError
    with pytest.raises(ImportError, match=r"to_nir needs the optional package 'nir': pip install neuroplastic\[nir\]"):
        to_nir(Sequential(Dense(2, 2)))
    with pytest.raises(ImportError, match=r"pip install neuroplastic\[nir\]"):
        from_nir("x.nir", dt=1e-3)
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"to_onnx needs the optional package 'onnx': pip install neuroplastic\[onnx\]"):
        to_onnx(Sequential(Dense(2, 2)), torch.zeros(1, 1, 2), "x.onnx")
