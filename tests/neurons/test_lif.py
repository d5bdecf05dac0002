"""LIF neuron against closed forms and hand-computed values."""
from __future__ import annotations

import math

import pytest
import torch

from neuroplastic.neurons import LIF, LIFCell, LIFParams, lif_init, lif_step

DT = 1e-3


def run_steps(x: torch.Tensor, params: LIFParams, dt: float = DT):
    """Loop the pure step over ``x[T, ...]``; returns spikes and the list of states after each step."""
    state = lif_init(x[0], params)
    spikes, states = [], []
    for t in range(x.shape[0]):
        s, state = lif_step(x[t], state, params, dt)
        spikes.append(s)
        states.append(state)
    return torch.stack(spikes), states


@pytest.mark.parametrize("v_leak", [0.0, -0.3, 0.7])
def test_membrane_matches_closed_form_under_constant_current(v_leak: float) -> None:
    # tau dv/dt = -(v - v_leak) + R I, v(0) = v_leak  =>  v(t) = v_leak + R I (1 - exp(-t/tau)).
    tau, r, T = 8e-3, 1.5, 60
    current = torch.tensor([0.1, 0.4, -0.5], dtype=torch.float64)
    p = LIFParams(tau_mem=tau, v_th=v_leak + 10.0, v_reset=v_leak, v_leak=v_leak, r=r)
    spikes, states = run_steps(current.expand(T, 1, 3), p)
    assert spikes.sum() == 0
    t = torch.arange(1, T + 1, dtype=torch.float64).view(T, 1, 1) * DT
    expected = v_leak + r * current * (1 - torch.exp(-t / tau))
    got = torch.stack([s.v for s in states])
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_step_matches_doc_equation_for_arbitrary_start() -> None:
    p = LIFParams(tau_mem=5e-3, v_leak=-0.2, r=2.0, v_th=50.0)
    v0 = torch.tensor([[-1.0, 0.3, 2.0]], dtype=torch.float64)
    x = torch.tensor([[0.5, -0.1, 0.0]], dtype=torch.float64)
    _, st = lif_step(x, lif_init(x, p)._replace(v=v0), p, dt=2e-3)
    b = math.exp(-2e-3 / 5e-3)
    torch.testing.assert_close(st.v, -0.2 + (v0 + 0.2) * b + (1 - b) * 2.0 * x, rtol=0, atol=1e-14)


def firing_rate(spikes: torch.Tensor, dt: float) -> torch.Tensor:
    """Rate from spike times: (number of intervals) / (last - first spike time), per neuron."""
    rates = []
    for j in range(spikes.shape[-1]):
        times = torch.nonzero(spikes[:, j])[:, 0].double() * dt
        assert len(times) >= 3, "too few spikes to measure a rate"
        rates.append((len(times) - 1) / float(times[-1] - times[0]))
    return torch.tensor(rates, dtype=torch.float64)


@pytest.mark.parametrize(
    "t_ref, reset", [(0.0, "zero"), (2e-3, "zero"), (5e-3, "zero"), (0.0, "subtract"), (3e-3, "subtract")]
)
def test_firing_rate_matches_theory(t_ref: float, reset: str) -> None:
    # f = 1 / (t_ref + tau ln(R I / (R I - v_th))) for v_reset = v_leak = 0.
    dt, tau, r, T = 2e-5, 10e-3, 1.0, 5000
    current = torch.tensor([1.2, 1.5, 2.0, 4.0], dtype=torch.float64)
    with torch.no_grad():
        spikes, _ = LIF(tau_mem=tau, v_th=1.0, r=r, t_ref=t_ref, reset=reset, dt=dt)(current.expand(T, 1, 4))
    measured = firing_rate(spikes[:, 0], dt)
    theory = 1.0 / (t_ref + tau * torch.log(r * current / (r * current - 1.0)))
    torch.testing.assert_close(measured, theory, rtol=1e-2, atol=0)
    # Counting spikes over the whole window agrees up to the +-1 spike of the window edges.
    counts = spikes[:, 0].sum(0)
    assert torch.all((counts - theory * T * dt).abs() <= 1.5)


def test_no_spikes_below_rheobase() -> None:
    # R I < v_th: v tends to R I < v_th and never fires.
    with torch.no_grad():
        spikes, state = LIF(tau_mem=10e-3, v_th=1.0)(torch.full((500, 1, 2), 0.99, dtype=torch.float64))
    assert spikes.sum() == 0
    torch.testing.assert_close(state.v, torch.full((1, 2), 0.99 * (1 - math.exp(-0.5 / 10e-3)), dtype=torch.float64))


def _one_step_after(v0: float, x: float, **kw) -> tuple[float, float]:
    p = LIFParams(tau_mem=10e-3, **kw)
    xt = torch.tensor([[x]], dtype=torch.float64)
    s, st = lif_step(xt, lif_init(xt, p)._replace(v=torch.tensor([[v0]], dtype=torch.float64)), p, DT)
    return float(s), float(st.v)


def test_reset_semantics_by_hand() -> None:
    b = math.exp(-0.1)
    x = 20.0
    v_int = 0.5 * b + (1 - b) * x  # 2.3...: above threshold 1
    # subtract: v <- v - (v_th - v_reset); zero: v <- v_reset; none: v unchanged.
    s, v = _one_step_after(0.5, x, v_th=1.0, v_reset=0.0, reset="subtract")
    assert s == 1.0 and v == pytest.approx(v_int - 1.0, abs=1e-12)
    s, v = _one_step_after(0.5, x, v_th=1.0, v_reset=-0.5, reset="subtract")
    assert s == 1.0 and v == pytest.approx(v_int - 1.5, abs=1e-12)
    s, v = _one_step_after(0.5, x, v_th=1.0, v_reset=-0.5, reset="zero")
    assert s == 1.0 and v == pytest.approx(-0.5, abs=1e-12)
    s, v = _one_step_after(0.5, x, v_th=1.0, reset="none")
    assert s == 1.0 and v == pytest.approx(v_int, abs=1e-12)
    # Below threshold no reset happens in any mode.
    for mode in ("subtract", "zero", "none"):
        s, v = _one_step_after(0.5, 0.0, v_th=1.0, v_reset=-0.5, reset=mode)
        assert s == 0.0 and v == pytest.approx(0.5 * b, abs=1e-12)


def test_refractory_holds_membrane_and_ignores_input() -> None:
    t_ref, dt = 3e-3, 1e-3
    p = LIFParams(tau_mem=10e-3, v_th=1.0, v_reset=-0.2, t_ref=t_ref, reset="subtract")
    # A huge input at step 0 fires; then more huge input during 3 refractory steps is ignored.
    x = torch.tensor([50.0, 50.0, 50.0, 50.0, 0.0, 0.0], dtype=torch.float64).view(6, 1, 1)
    spikes, states = run_steps(x, p, dt)
    assert spikes.view(-1).tolist() == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    for k in (1, 2, 3):  # held at v_reset during round(t_ref / dt) = 3 steps
        assert float(states[k].v) == pytest.approx(-0.2, abs=1e-12)
    assert float(states[0].ref) == pytest.approx(t_ref)
    # After the refractory period, integration restarts from v_reset (here with zero input).
    b = math.exp(-dt / 10e-3)
    assert float(states[4].v) == pytest.approx(-0.2 * b, abs=1e-12)
    assert float(states[5].v) == pytest.approx(-0.2 * b * b, abs=1e-12)
    # No gradient reaches inputs given during the refractory period.
    xg = x.clone().requires_grad_(True)
    x_late = torch.zeros_like(x)
    x_late[4] = 0.05
    _, st3 = run_steps(xg + x_late, p, dt)
    st3[-1].v.sum().backward()
    assert xg.grad.view(-1)[1:4].abs().max() == 0
    assert xg.grad.view(-1)[4] != 0


def test_detach_reset_removes_reset_path_from_gradient() -> None:
    # Two steps: x0 fires at step 0, then the membrane decays with zero input.
    tau, dt, alpha = 10e-3, 1e-3, 2.0
    b = math.exp(-dt / tau)
    for detach in (False, True):
        p = LIFParams(tau_mem=tau, v_th=1.0, reset="subtract", detach_reset=detach,
                      surrogate={"name": "fast_sigmoid", "alpha": alpha})
        x = torch.tensor([[[12.0]], [[0.0]]], dtype=torch.float64, requires_grad=True)
        s, states = run_steps(x, p, dt)
        states[-1].v.sum().backward()
        v_int0 = (1 - b) * 12.0
        v_int1 = b * (v_int0 - 1.0)
        sg0 = 1.0 / (1.0 + alpha * abs(v_int0 - 1.0)) ** 2
        sg1 = 1.0 / (1.0 + alpha * abs(v_int1 - 1.0)) ** 2
        # v_k = v_int_k - s_k (v_th - v_reset), and the surrogate gives ds_k/dv_int_k = sg_k even
        # when s_k = 0. Without detach: dv1/dx0 = (1 - sg1) b (1 - sg0) (1 - b); with detach the
        # reset term carries no gradient: dv1/dx0 = b (1 - b).
        keep = 0.0 if detach else 1.0
        expected_x0 = (1 - keep * sg1) * b * (1 - keep * sg0) * (1 - b)
        assert s.detach().view(-1).tolist() == [1.0, 0.0]
        assert float(x.grad[0]) == pytest.approx(expected_x0, rel=1e-12)
        assert float(x.grad[1]) == pytest.approx((1 - keep * sg1) * (1 - b), rel=1e-12)


def test_detach_reset_zero_mode_gradient() -> None:
    tau, dt, alpha = 10e-3, 1e-3, 2.0
    b = math.exp(-dt / tau)
    for detach in (False, True):
        p = LIFParams(tau_mem=tau, v_th=1.0, v_reset=0.25, reset="zero", detach_reset=detach,
                      surrogate={"name": "fast_sigmoid", "alpha": alpha})
        x = torch.tensor([[12.0]], dtype=torch.float64, requires_grad=True)
        _, st = lif_step(x, lif_init(x, p), p, dt)
        st.v.sum().backward()
        v_int = (1 - b) * 12.0
        sg = 1.0 / (1.0 + alpha * abs(v_int - 1.0)) ** 2
        # v = v_int (1 - s) + s v_reset: dv/dx = (1-b)(1-s) + [not detach] (v_reset - v_int) sg (1-b).
        expected = (1 - b) * (0.0 if detach else (0.25 - v_int) * sg)
        assert float(x.grad) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_step_does_not_mutate_inputs() -> None:
    p = LIFParams(t_ref=2e-3)
    x = torch.full((2, 3), 40.0)
    st = lif_init(x, p)
    v0, r0 = st.v.clone(), st.ref.clone()
    lif_step(x, st, p)
    assert torch.equal(st.v, v0) and torch.equal(st.ref, r0)


def test_cell_defaults_and_shapes() -> None:
    cell = LIFCell(tau_mem=5e-3, dt=5e-4)
    x = torch.rand(4, 2, 3)
    s, st = cell(x)
    assert s.shape == x.shape and st.v.shape == x.shape and st.ref.shape == x.shape
    assert cell.init_state(x).v.eq(0).all()
