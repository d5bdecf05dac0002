"""Graph model: exact propagator, connectivity construction (CSR) and clear errors for bad specs."""
from __future__ import annotations

import math

import pytest
import torch

from neuroplastic.network.graph import (
    Network,
    all_to_all,
    cuba_network,
    fixed_probability,
    from_list,
    one_to_one,
    synaptic_propagator,
)
from neuroplastic.network.monitors import SpikeMonitor, StateMonitor
from neuroplastic.neurons import CubaLIFParams

DT = 1e-4


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: threads only add contention on a shared machine
    yield
    torch.set_num_threads(n)


# --------------------------------------------------------------------------- exact propagator
@pytest.mark.parametrize("tau_m,tau_s", [(20e-3, 5e-3), (10e-3, 10e-3), (10e-3, 10e-3 * (1 + 1e-9)), (5e-3, 30e-3)])
def test_propagator_equals_matrix_exponential(tau_m: float, tau_s: float) -> None:
    # d/dt [u, I] = A [u, I] with A = [[-1/tau_m, 1/tau_m], [0, -1/tau_s]]  =>  P = expm(A dt).
    dt = 0.7e-3
    a, b, c = synaptic_propagator(tau_m, tau_s, dt)
    gen = torch.tensor([[-1 / tau_m, 1 / tau_m], [0.0, -1 / tau_s]], dtype=torch.float64) * dt
    expm = torch.linalg.matrix_exp(gen)
    torch.testing.assert_close(torch.tensor([[a, b], [0.0, c]], dtype=torch.float64), expm, rtol=1e-13, atol=1e-15)


def test_propagator_equal_time_constants_is_the_limit() -> None:
    tau, dt = 10e-3, 1e-3
    _, b_eq, _ = synaptic_propagator(tau, tau, dt)
    assert b_eq == pytest.approx(dt / tau * math.exp(-dt / tau), rel=1e-15)
    _, b_near, _ = synaptic_propagator(tau, tau * (1 + 1e-7), dt)
    assert b_near == pytest.approx(b_eq, rel=1e-6)


def _single_event(tau_m: float, tau_s: float, w: float, k: int, n_steps: int) -> torch.Tensor:
    """v of one LIF neuron (never firing) that receives one excitatory event emitted at step k."""
    net = Network(dt=DT)
    net.add_source("in", 1, [0], steps=[k])
    net.add_population("post", 1, tau_mem=tau_m, tau_syn_exc=tau_s, v_rest=0.0, v_reset=-1.0, v_th=1e3, t_ref=0.0,
                       v_init=0.0)
    net.connect("in", "post", one_to_one(), weight=w)
    mon = StateMonitor("post", ("v", "i_exc"))
    net.run(steps=n_steps, monitors=[mon], dtype=torch.float64)
    return mon["v"][:, 0], mon["i_exc"][:, 0]


@pytest.mark.parametrize("tau_m,tau_s", [(20e-3, 5e-3), (10e-3, 10e-3)])
def test_single_event_response_matches_closed_form(tau_m: float, tau_s: float) -> None:
    # I(t) = w e^{-t/tau_s};  v(t) = w tau_s/(tau_s - tau_m) (e^{-t/tau_s} - e^{-t/tau_m})  (w t/tau e^{-t/tau} if equal)
    w, k, n = 2e-3, 5, 600
    v, i_exc = _single_event(tau_m, tau_s, w, k, n)
    assert torch.all(v[: k + 1] == 0) and torch.all(i_exc[:k] == 0)  # the event lands in I at step k, v moves after
    t = (torch.arange(n, dtype=torch.float64) - k) * DT
    after = t >= 0
    t = t.clamp_min(0)
    if tau_m == tau_s:
        v_exp = w * t / tau_m * torch.exp(-t / tau_m)
    else:
        v_exp = w * tau_s / (tau_s - tau_m) * (torch.exp(-t / tau_s) - torch.exp(-t / tau_m))
    torch.testing.assert_close(v[after], v_exp[after], rtol=1e-10, atol=1e-16)
    torch.testing.assert_close(i_exc[after], (w * torch.exp(-t / tau_s))[after], rtol=1e-12, atol=0.0)


def test_single_event_response_matches_fine_euler() -> None:
    tau_m, tau_s, w, k, n = 20e-3, 5e-3, 2e-3, 0, 300
    v, _ = _single_event(tau_m, tau_s, w, k, n)
    sub = 200  # forward Euler at dt / 200
    h = DT / sub
    u, cur = 0.0, w
    euler = []
    for _ in range(n - k):
        for _ in range(sub):
            u, cur = u + h * (-u + cur) / tau_m, cur - h * cur / tau_s
        euler.append(u)
    torch.testing.assert_close(v[k + 1:], torch.tensor(euler[:-1], dtype=torch.float64), rtol=2e-3, atol=1e-9)


def test_free_membrane_first_spike_and_refractory_period() -> None:
    # v(n) = v_inf + (v0 - v_inf) a^n crosses v_th at the first n with a^n < (v_inf - v_th)/(v_inf - v0)
    p = CubaLIFParams(tau_mem=10e-3, v_rest=0.0, i_bias=1.5, v_th=1.0, v_reset=0.0, t_ref=2e-3)
    a = math.exp(-DT / p.tau_mem)
    n_cross = math.ceil(math.log((1.5 - 1.0) / 1.5) / math.log(a))  # steps from v_reset to threshold
    net = Network(dt=DT)
    net.add_population("x", 1, p, v_init=0.0)
    mon = StateMonitor("x", "v")
    spikes = SpikeMonitor("x")
    net.run(steps=500, monitors=[mon, spikes], dtype=torch.float64)
    first = n_cross - 1  # step s integrates to time (s + 1) dt
    n_ref = 20
    period = n_ref + n_cross - 1  # integration resumes n_ref steps after the spike step (Brian2's rule)
    expected = [first + j * period for j in range(500 // period + 1)]
    expected = [s for s in expected if s < 500]
    assert spikes.steps.tolist() == expected
    v = mon["v"][:, 0]
    assert torch.all(v[first:first + n_ref] == 0.0)  # held at v_reset through the refractory steps
    assert v[first + n_ref] > 0.0


# --------------------------------------------------------------------------- connectivity
@pytest.mark.parametrize("allow_self", [True, False])
def test_fixed_probability_count_and_self_connections(allow_self: bool) -> None:
    n, p = 500, 0.05
    net = Network(seed=7)
    net.add_population("A", n)
    proj = net.connect("A", "A", fixed_probability(p, allow_self=allow_self), weight=1.0)
    pairs = n * n if allow_self else n * (n - 1)
    mean, sd = p * pairs, math.sqrt(pairs * p * (1 - p))
    assert abs(proj.n_synapses - mean) < 5 * sd
    rows = torch.repeat_interleave(torch.arange(n), proj.indptr.diff())
    n_self = int((rows == proj.indices).sum())
    if allow_self:
        assert abs(n_self - p * n) < 5 * math.sqrt(n * p)  # autapses drawn like any pair
    else:
        assert n_self == 0
    # CSR invariants: targets in range, sorted and unique within each row
    assert proj.indptr[0] == 0 and proj.indptr[-1] == proj.n_synapses
    assert int(proj.indices.min()) >= 0 and int(proj.indices.max()) < n
    key = rows * n + proj.indices
    assert torch.all(key.diff() > 0)


def test_fixed_probability_marginals_are_uniform() -> None:
    # every pair has probability p: row and column degrees both average p * n, and the flattened
    # positions look uniform (mean of the normalised position ~ 1/2)
    n_pre, n_post, p = 300, 700, 0.03
    net = Network(seed=3)
    net.add_population("A", n_pre)
    net.add_population("B", n_post)
    proj = net.connect("A", "B", fixed_probability(p), weight=1.0)
    deg_out = proj.indptr.diff().double()
    deg_in = torch.bincount(proj.indices, minlength=n_post).double()
    assert deg_out.mean() == pytest.approx(p * n_post, rel=0.05)
    assert deg_in.mean() == pytest.approx(p * n_pre, rel=0.05)
    assert deg_out.var() == pytest.approx(n_post * p * (1 - p), rel=0.25)  # binomial out-degree
    assert float(proj.indices.double().mean() / n_post) == pytest.approx(0.5, abs=0.02)


def test_fixed_probability_is_reproducible_by_seed() -> None:
    def build(net_seed: int, conn_seed: int | None) -> torch.Tensor:
        net = Network(seed=net_seed)
        net.add_population("A", 200)
        return net.connect("A", "A", fixed_probability(0.1, conn_seed), weight=1.0).indices

    assert torch.equal(build(0, None), build(0, None))
    assert not torch.equal(build(0, None), build(1, None))
    assert torch.equal(build(0, 5), build(1, 5))  # an explicit seed wins over the network seed


def test_extreme_probabilities_and_all_to_all() -> None:
    net = Network()
    net.add_population("A", 6)
    net.add_population("B", 4)
    assert net.connect("A", "B", fixed_probability(0.0), weight=1.0).n_synapses == 0
    assert net.connect("A", "B", fixed_probability(1.0), weight=1.0).n_synapses == 24
    assert net.connect("A", "A", all_to_all(allow_self=False), weight=1.0).n_synapses == 30
    assert net.connect("A", "A", all_to_all(), weight=1.0).n_synapses == 36


def test_matrix_list_and_connector_specs_agree() -> None:
    dense = torch.tensor([[0.0, 0.5, 0.0], [1.5, 0.0, -2.0]], dtype=torch.float64)
    net = Network()
    net.add_population("A", 2)
    net.add_population("B", 3)
    p_dense = net.connect("A", "B", dense)
    p_sparse = net.connect("A", "B", dense.to_sparse_coo())
    p_list = net.connect("A", "B", from_list([(1, 2, -2.0), (0, 1, 0.5), (1, 0, 1.5)]))
    p_pairs = net.connect("A", "B", from_list([(1, 0), (0, 1), (1, 2)]), weight=torch.tensor([0.5, 1.5, -2.0]))
    for p in (p_sparse, p_list):
        assert torch.equal(p.indptr, p_dense.indptr) and torch.equal(p.indices, p_dense.indices)
        assert torch.equal(p.weights, p_dense.weights)
    assert p_pairs.indices.tolist() == [1, 0, 2] and p_pairs.weights.tolist() == [0.5, 1.5, -2.0]
    torch.testing.assert_close(p_dense.to_dense(2, 3), dense)
    o2o = net.connect("B", "B", one_to_one(), weight=0.25)
    assert o2o.indices.tolist() == [0, 1, 2] and o2o.indptr.tolist() == [0, 1, 2, 3]
    assert [p.name for p in net.projections][:3] == ["A->B", "A->B#2", "A->B#3"]


def test_cuba_network_structure() -> None:
    net = cuba_network(1000, connection_probability=0.02, seed=1)
    assert [(p.name, p.size) for p in net.populations.values()] == [("E", 800), ("I", 200)]
    mean = 0.02 * 1000 * 1000
    assert abs(net.n_synapses - mean) < 5 * math.sqrt(mean)
    inh = [p for p in net.projections if p.pre == "I"]
    assert all(p.receptor == "inh" and torch.allclose(p.weights, torch.full_like(p.weights, -9e-3)) for p in inh)
    assert cuba_network(2000, fan_out=50).n_synapses == pytest.approx(2000 * 50, rel=0.05)


# --------------------------------------------------------------------------- bad specs
def _net() -> Network:
    net = Network()
    net.add_population("A", 4)
    net.add_population("B", 3)
    return net


@pytest.mark.parametrize("build,err,match", [
    (lambda n: n.connect("A", "C", one_to_one(), weight=1.0), KeyError, "unknown post population 'C'"),
    (lambda n: n.connect("X", "B", all_to_all(), weight=1.0), KeyError, "unknown pre population 'X'"),
    (lambda n: n.connect("A", "B", all_to_all(), weight=1.0, delay=-1e-3), ValueError, "delay must be finite and >= 0"),
    (lambda n: n.connect("A", "B", all_to_all(), weight=1.0, delay_steps=-2), ValueError, "non-negative integer"),
    (lambda n: n.connect("A", "B", all_to_all(), weight=1.0, delay=0.25e-4), ValueError, "not a whole number"),
    (lambda n: n.connect("A", "B", all_to_all(), weight=1.0, delay=1e-4, delay_steps=1), ValueError, "not both"),
    (lambda n: n.connect("A", "B", torch.ones(3, 4)), ValueError, r"shape \(3, 4\) != \(n_pre, n_post\) = \(4, 3\)"),
    (lambda n: n.connect("A", "B", all_to_all(), weight=torch.ones(5)), ValueError, r"weight shape \(5,\) != \(12,\)"),
    (lambda n: n.connect("A", "B", torch.ones(4, 3), weight=1.0), ValueError, "leave weight=None"),
    (lambda n: n.connect("A", "B", all_to_all()), ValueError, "pass weight="),
    (lambda n: n.connect("A", "B", one_to_one(), weight=1.0), ValueError, "equal sizes"),
    (lambda n: n.connect("A", "B", from_list([(0, 3)]), weight=1.0), ValueError, r"index j out of range \[0, 3\)"),
    (lambda n: n.connect("A", "B", all_to_all(), weight=float("nan")), ValueError, "NaN"),
    (lambda n: n.connect("A", "B", all_to_all(), weight=1.0, receptor="gaba"), ValueError, "unknown receptor"),
    (lambda n: n.connect("A", "B", "dense", weight=1.0), TypeError, "connectivity must be"),
    (lambda n: n.add_population("A", 2), ValueError, "duplicate population name 'A'"),
    (lambda n: n.add_population("C", 0), ValueError, "positive integer"),
    (lambda n: n.add_population("C", 2, v_init=torch.zeros(3)), ValueError, r"expected \(2,\)"),
    (lambda n: n.add_source("A", 2, [0], steps=[1]), ValueError, "duplicate population name"),
    (lambda n: n.add_source("S", 2, [0, 0], steps=[1, 1]), ValueError, "listed twice"),
    (lambda n: n.add_source("S", 2, [2], steps=[1]), ValueError, r"in \[0, 2\)"),
    (lambda n: (n.add_source("S", 2, [0], steps=[1]), n.connect("A", "S", all_to_all(), weight=1.0)), ValueError,
     "spike source"),
    (lambda n: (n.connect("A", "B", all_to_all(), weight=1.0, name="ab"),
                n.connect("A", "B", all_to_all(), weight=1.0, name="ab")), ValueError, "duplicate projection name"),
])
def test_bad_specs_raise_clear_errors(build, err, match) -> None:
    with pytest.raises(err, match=match):
        build(_net())


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_probability_outside_unit_interval(p: float) -> None:
    with pytest.raises(ValueError, match=r"probability must be in \[0, 1\]"):
        fixed_probability(p)


@pytest.mark.parametrize("kwargs,match", [
    ({"tau_mem": 0.0}, "tau_mem must be finite and > 0"),
    ({"tau_syn_inh": -1e-3}, "tau_syn_inh"),
    ({"t_ref": -1e-3}, "t_ref must be finite and >= 0"),
    ({"v_reset": -40e-3}, "v_reset .* must be below v_th"),
    ({"v_rest": float("inf")}, "v_rest must be finite"),
])
def test_bad_neuron_parameters(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CubaLIFParams(**kwargs)


def test_refractory_period_must_be_whole_steps() -> None:
    with pytest.raises(ValueError, match="t_ref .* not a whole number"):
        Network(dt=1e-4).add_population("A", 2, t_ref=0.25e-4)
