"""Event-driven execution against the clock-driven reference, the C engine against the torch one,
delays, continuation, monitors."""
from __future__ import annotations

import pytest
import torch

from neuroplastic._core.registry import available_backends
from neuroplastic.network import _event_c
from neuroplastic.network.event import compile_network, init_state, run_network
from neuroplastic.network.graph import Network, cuba_network, from_list, one_to_one
from neuroplastic.network.monitors import SpikeMonitor, StateMonitor

HAS_C = _event_c.available()
needs_c = pytest.mark.skipif(not HAS_C, reason="no C compiler: the cpu_c engine is unavailable")


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def small_cuba(seed: int = 0) -> Network:
    # 400 neurons at p = 0.2: the same fan-in (80) as the 4,000-neuron CUBA, so the same regime
    return cuba_network(400, connection_probability=0.2, seed=seed)


def spikes_of(net: Network, steps: int, **kw) -> tuple[torch.Tensor, torch.Tensor, object]:
    mon = SpikeMonitor()
    state = net.run(steps=steps, monitors=[mon], **kw)
    return mon.indices, mon.steps, state


# --------------------------------------------------------------------------- exactness
def test_event_driven_equals_clock_driven_float64() -> None:
    net = small_cuba()
    i_clk, s_clk, st_clk = spikes_of(net, 1000, mode="clock", dtype=torch.float64)
    i_evt, s_evt, st_evt = spikes_of(net, 1000, mode="event", backend="reference", dtype=torch.float64)
    assert i_clk.numel() > 150  # the network is active (~5 Hz x 400 neurons x 0.1 s ~ 200 spikes)
    assert torch.equal(i_clk, i_evt) and torch.equal(s_clk, s_evt)
    for a, b in zip(st_clk[:6], st_evt[:6]):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-15)


@needs_c
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_c_engine_is_bit_identical_to_torch_reference(dtype: torch.dtype) -> None:
    net = small_cuba(seed=1)
    i_ref, s_ref, st_ref = spikes_of(net, 1000, backend="reference", dtype=dtype)
    i_c, s_c, st_c = spikes_of(net, 1000, backend="cpu_c", dtype=dtype)
    assert torch.equal(i_ref, i_c) and torch.equal(s_ref, s_c)
    for a, b in zip(st_ref[:6], st_c[:6]):
        assert torch.equal(a, b)


def test_same_seed_same_spikes_other_seed_differs() -> None:
    a = spikes_of(small_cuba(seed=4), 300)
    b = spikes_of(small_cuba(seed=4), 300)
    c = spikes_of(small_cuba(seed=5), 300)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not (a[0].shape == c[0].shape and torch.equal(a[0], c[0]))


@pytest.mark.parametrize("mode,backend", [("event", "reference"), ("clock", None)]
                         + ([("event", "cpu_c")] if HAS_C else []))
def test_continuing_a_run_equals_one_long_run(mode: str, backend: str | None) -> None:
    net = small_cuba(seed=2)
    whole = SpikeMonitor()
    st_whole = net.run(steps=300, monitors=[whole], mode=mode, backend=backend, dtype=torch.float64)
    parts = SpikeMonitor()
    st = None
    for n in (100, 1, 199):
        st = net.run(steps=n, state=st, monitors=[parts], mode=mode, backend=backend, dtype=torch.float64)
    assert torch.equal(whole.indices, parts.indices) and torch.equal(whole.steps, parts.steps)
    assert int(st.step) == 300 and st.v.dtype == torch.float64
    for a, b in zip(st_whole[:6], st[:6]):
        assert torch.equal(a, b)


# --------------------------------------------------------------------------- delays
def delay_net() -> Network:
    # source neuron 0 fires at steps 2 and 9; projections with delays 0, 3 and 7 steps onto three
    # separate targets; source neuron 1 fires at step 20 onto target 0 via delay 0.5 ms = 5 steps
    net = Network(dt=1e-4)
    net.add_source("S", 2, [0, 0, 1], steps=[2, 9, 20])
    net.add_population("T", 3, v_rest=0.0, v_reset=-1.0, v_th=1e3, t_ref=0.0, v_init=0.0)
    for j, d in enumerate((0, 3, 7)):
        net.connect("S", "T", from_list([(0, j, 1.0)]), delay_steps=d, name=f"d{d}")
    net.connect("S", "T", from_list([(1, 0, 10.0)]), delay=0.5e-3, receptor="inh")
    return net


@pytest.mark.parametrize("mode,backend", [("event", "reference"), ("clock", None)]
                         + ([("event", "cpu_c")] if HAS_C else []))
def test_delays_deliver_at_exactly_the_right_step(mode: str, backend: str | None) -> None:
    net = delay_net()
    mon = StateMonitor("T", ("v", "i_exc", "i_inh"))
    net.run(steps=40, monitors=[mon], mode=mode, backend=backend, dtype=torch.float64)
    i_exc, i_inh, v = mon["i_exc"], mon["i_inh"], mon["v"]
    decay = compile_network(net, torch.float64).pconst[1, 3].item()  # c_exc of population T (after S)
    for j, d in enumerate((0, 3, 7)):
        jumps = torch.nonzero(i_exc[1:, j] - i_exc[:-1, j] * decay > 0.5).squeeze(1) + 1
        assert jumps.tolist() == [2 + d, 9 + d], (j, d)  # in I after step t + d ...
        first = int(jumps[0])
        assert torch.all(i_exc[:first, j] == 0) and torch.all(v[:first + 1, j] == 0)
        assert v[first + 1, j] > 0  # ... and moving v from step t + d + 1 on
    inh_jump = torch.nonzero(i_inh[:, 0]).squeeze(1)
    assert int(inh_jump[0]) == 25 and i_inh[25, 0] == 10.0


def test_ring_buffer_wraps_over_long_runs() -> None:
    # a neuron firing every step with delay 4 (ring of 5 slots) drives its target through many wraps
    net = Network(dt=1e-4)
    net.add_population("P", 1, v_rest=0.0, i_bias=10.0, v_th=1.0, v_reset=0.0, t_ref=0.0, tau_mem=1e-5)
    net.add_population("T", 1, v_rest=0.0, v_reset=-1.0, v_th=1e3, t_ref=0.0, v_init=0.0)
    net.connect("P", "T", one_to_one(), weight=1.0, delay_steps=4)
    pre = SpikeMonitor("P")
    mon = StateMonitor("T", "i_exc")
    run_network(net, steps=60, monitors=[pre, mon], dtype=torch.float64, backend="reference")
    assert pre.steps.tolist() == list(range(60))  # fires every step
    c = compile_network(net, torch.float64).pconst[1, 3].item()
    expect = torch.zeros(60, dtype=torch.float64)
    for t in range(4, 60):
        expect[t] = expect[t - 1] * c + 1.0
    torch.testing.assert_close(mon["i_exc"][:, 0], expect, rtol=1e-14, atol=0)


@needs_c
def test_c_engine_grows_its_spike_buffer() -> None:
    # 8 neurons firing every step for 2,000 steps = 16,000 spikes > the initial capacity (4N + 1024)
    net = Network(dt=1e-4)
    net.add_population("P", 8, v_rest=0.0, i_bias=10.0, v_th=1.0, v_reset=0.0, t_ref=0.0, tau_mem=1e-5)
    net.connect("P", "P", one_to_one(), weight=1e-3, delay_steps=2)
    a = spikes_of(net, 2000, backend="reference")
    b = spikes_of(net, 2000, backend="cpu_c")
    assert a[0].numel() == 16000
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_engine_choice_and_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    names = available_backends("event_run", "cpu")
    assert "reference" in names and (names[0] == "cpu_c") == HAS_C
    monkeypatch.setenv("NEUROPLASTIC_CPU_KERNEL", "torch")
    assert available_backends("event_run", "cpu") == ["reference"]
    with pytest.raises(ValueError, match="not available"):
        small_cuba().run(steps=1, backend="cpu_c")
    with pytest.raises(ValueError, match="leave it None with mode='clock'"):
        small_cuba().run(steps=1, mode="clock", backend="reference")


def test_failed_build_warns_and_falls_back_to_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    from neuroplastic.kernels import _ccompile

    monkeypatch.setenv("CC", "no-such-compiler-here")
    _ccompile.clear_loaded()
    try:
        with pytest.warns(RuntimeWarning, match="could not build the C kernel 'neuroplastic_event'"):
            assert not _event_c.available()
        assert available_backends("event_run", "cpu") == ["reference"]
        net = small_cuba()
        a = spikes_of(net, 50)  # runs on the reference
        assert a[0].numel() > 0
    finally:
        monkeypatch.delenv("CC")
        _ccompile.clear_loaded()  # later calls load the cached library again


# --------------------------------------------------------------------------- monitors
def test_spike_monitors_split_by_population_and_rate() -> None:
    net = small_cuba(seed=3)
    all_, exc, inh = SpikeMonitor(), SpikeMonitor("E"), SpikeMonitor("I")
    net.run(0.05, monitors=[all_, exc, inh])
    assert all_.count == exc.count + inh.count > 0
    glob = torch.sort(torch.cat([exc.indices + exc.steps * 400, inh.indices + 320 + inh.steps * 400])).values
    assert torch.equal(glob, all_.indices + all_.steps * 400)
    assert all_.rate() == pytest.approx(all_.count / (400 * 0.05))
    assert exc.rate(per_neuron=True).shape == (320,)
    assert float(exc.rate(per_neuron=True).sum()) == pytest.approx(exc.count / 0.05)
    assert exc.counts().sum() == exc.count
    torch.testing.assert_close(exc.times, (exc.steps.double() + 1) * 1e-4)
    trains = exc.spike_trains()
    assert sum(t.numel() for t in trains.values()) == exc.count
    assert all(torch.all(t.diff() > 0) for t in trains.values())
    net.run(0.05, monitors=[exc])  # a fresh run (new state) still accumulates in the same monitor
    assert exc.duration == pytest.approx(0.1)
    assert exc.reset().count == 0


def test_state_monitor_selects_neurons_and_steps() -> None:
    net = small_cuba(seed=3)
    full = StateMonitor("I", ("v", "i_exc", "i_inh"))
    some = StateMonitor("I", ("i_inh", "v"), neurons=[3, 0, 79], every=7)
    at = StateMonitor("I", "v", neurons=[5], steps=[0, 13, 99, 500])
    net.run(steps=100, monitors=[full, some, at])
    assert full["v"].shape == (100, 80) and torch.equal(full.steps, torch.arange(100))
    assert some.steps.tolist() == list(range(0, 100, 7))
    assert torch.equal(some["v"], full["v"][::7][:, [3, 0, 79]])
    assert torch.equal(some["i_inh"], full["i_inh"][::7][:, [3, 0, 79]])
    assert at.steps.tolist() == [0, 13, 99] and torch.equal(at["v"][:, 0], full["v"][[0, 13, 99], 5])
    assert torch.all(full["i_inh"] <= 0) and torch.all(full["i_exc"] >= 0)
    with pytest.raises(KeyError, match="was not recorded"):
        at["i_exc"]


def test_raster_plot_headless() -> None:
    net = small_cuba(seed=3)
    mon = SpikeMonitor("E")
    net.run(0.02, monitors=[mon])
    ax = mon.raster(max_neurons=100)
    x, y = ax.lines[0].get_data()
    assert len(x) == int((mon.indices < 100).sum()) > 0 and max(y) < 100
    assert ax.get_xlabel() == "time (ms)"


def test_monitor_errors() -> None:
    net = small_cuba()
    with pytest.raises(KeyError, match="monitor population 'X'"):
        net.run(steps=1, monitors=[SpikeMonitor("X")])
    with pytest.raises(ValueError, match="unknown state variable"):
        StateMonitor("E", "u")
    with pytest.raises(ValueError, match=r"neurons must be in \[0, 80\)"):
        net.run(steps=1, monitors=[StateMonitor("I", neurons=[80])])
    with pytest.raises(RuntimeError, match="nothing recorded"):
        SpikeMonitor().rate()
    mon = SpikeMonitor("E")
    net.run(steps=1, monitors=[mon])
    with pytest.raises(ValueError, match="another network"):
        small_cuba().run(steps=1, monitors=[mon])


def test_run_argument_errors() -> None:
    net = small_cuba()
    with pytest.raises(ValueError, match="exactly one of duration"):
        net.run()
    with pytest.raises(ValueError, match="not a whole number"):
        net.run(0.00015)
    with pytest.raises(ValueError, match="unknown mode"):
        net.run(steps=1, mode="async")
    other = init_state(compile_network(cuba_network(100, connection_probability=0.1)))
    with pytest.raises(ValueError, match="pass state=None to start fresh"):
        net.run(steps=1, state=other)
    with pytest.raises(ValueError, match="no populations"):
        Network().run(steps=1)
