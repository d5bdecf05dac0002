"""Izhikevich (2003) presets against their known firing patterns; rest point in closed form."""
from __future__ import annotations

import math

import pytest
import torch

from neuroplastic.neurons import (
    IZHIKEVICH_PRESETS,
    Izhikevich,
    IzhikevichCell,
    IzhikevichParams,
    IzhikevichState,
    izhikevich_init,
    izhikevich_step,
)

DT = 0.5e-3  # seconds (0.5 ms, Izhikevich's step)


def isis_ms(preset: str, current: float = 10.0, duration_ms: float = 500.0) -> torch.Tensor:
    """Inter-spike intervals (ms) of one preset neuron under constant current."""
    steps = int(duration_ms / (DT * 1e3))
    with torch.no_grad():
        spikes, _ = Izhikevich(preset, dt=DT)(torch.full((steps, 1, 1), current, dtype=torch.float64))
    times = torch.nonzero(spikes.view(-1))[:, 0].double() * DT * 1e3
    return times.diff()


@pytest.fixture(scope="module")
def patterns() -> dict[str, torch.Tensor]:
    return {name: isis_ms(name) for name in ("regular_spiking", "fast_spiking", "intrinsically_bursting", "chattering")}


def test_regular_spiking_is_tonic_with_adaptation(patterns) -> None:
    isi = patterns["regular_spiking"]
    assert len(isi) >= 5
    assert isi[1] > 1.3 * isi[0]  # the first interval is the shortest: spike-frequency adaptation
    assert torch.all(isi.diff() >= -0.5)  # intervals never shrink (up to one step)
    tail = isi[len(isi) // 2:]
    assert tail.std() / tail.mean() < 0.05  # then tonic: regular single spikes


def test_fast_spiking_fires_fast_without_adaptation(patterns) -> None:
    fs, rs = patterns["fast_spiking"], patterns["regular_spiking"]
    steady = fs[2:]
    assert steady.std() / steady.mean() < 0.1
    assert 1000.0 / fs.mean() > 2.5 * 1000.0 / rs.mean()  # FS rate well above RS rate
    assert fs.max() < 15.0


def test_intrinsically_bursting_bursts_then_spikes_regularly(patterns) -> None:
    isi = patterns["intrinsically_bursting"]
    assert isi[0] < 10.0  # initial burst
    later = isi[3:]
    assert len(later) >= 5 and later.min() > 20.0  # then regular single spikes
    assert later[2:].std() / later[2:].mean() < 0.05


def test_chattering_repeats_high_frequency_bursts(patterns) -> None:
    isi = patterns["chattering"]
    short, long = isi[isi < 10.0], isi[isi > 30.0]
    assert len(short) + len(long) == len(isi)  # bimodal: nothing in between
    assert len(long) >= 5  # several bursts
    assert len(short) >= 2 * len(long)  # each burst holds several spikes
    assert short.mean() < 8.0 and long.mean() > 35.0


def rest_point(b: float) -> float:
    # dv/dt = 0, du/dt = 0 with I = 0: 0.04 v^2 + (5 - b) v + 140 = 0, u = b v; the lower root is stable.
    q = 5.0 - b
    return (-q - math.sqrt(q * q - 4 * 0.04 * 140.0)) / (2 * 0.04)


@pytest.mark.parametrize("preset", sorted(IZHIKEVICH_PRESETS))
def test_zero_input_settles_at_rest_fixed_point(preset: str) -> None:
    m = Izhikevich(preset, dt=DT)
    with torch.no_grad():
        spikes, state = m(torch.zeros(2000, 1, 1, dtype=torch.float64))
    v_rest = rest_point(m.params.b)
    assert spikes.sum() == 0
    assert float(state.v) == pytest.approx(v_rest, abs=1e-3)
    assert float(state.u) == pytest.approx(m.params.b * v_rest, abs=1e-3)


def test_fixed_point_is_stationary() -> None:
    p = IzhikevichParams.preset("regular_spiking")
    v = torch.full((1, 1), rest_point(p.b), dtype=torch.float64)
    state = IzhikevichState(v, p.b * v)
    x = torch.zeros(1, 1, dtype=torch.float64)
    _, new = izhikevich_step(x, state, p, DT)
    torch.testing.assert_close(new.v, state.v, rtol=0, atol=1e-10)
    torch.testing.assert_close(new.u, state.u, rtol=0, atol=1e-10)


def test_euler_step_and_spike_reset_by_hand() -> None:
    p = IzhikevichParams(a=0.02, b=0.2, c=-65.0, d=8.0)
    v0, u0, i = -60.0, -12.0, 7.0
    state = IzhikevichState(torch.tensor([[v0]], dtype=torch.float64), torch.tensor([[u0]], dtype=torch.float64))
    x = torch.tensor([[i]], dtype=torch.float64)
    s, new = izhikevich_step(x, state, p, DT)
    h = DT * 1e3
    assert float(s) == 0.0
    assert float(new.v) == pytest.approx(v0 + h * (0.04 * v0**2 + 5 * v0 + 140 - u0 + i), abs=1e-12)
    assert float(new.u) == pytest.approx(u0 + h * 0.02 * (0.2 * v0 - u0), abs=1e-12)
    # Crossing the 30 mV peak: spike, v <- c, u <- u + d (u frozen once v reached the peak).
    state = IzhikevichState(torch.tensor([[29.0]], dtype=torch.float64), torch.tensor([[-5.0]], dtype=torch.float64))
    s, new = izhikevich_step(x, state, p, DT)
    assert float(s) == 1.0
    assert float(new.v) == -65.0
    assert float(new.u) == pytest.approx(-5.0 + h * 0.02 * (0.2 * 29.0 + 5.0) + 8.0, abs=1e-12)


def test_large_dt_is_substepped() -> None:
    # Sub-threshold: one 1 ms step equals two 0.5 ms steps (max_substep_ms = 0.5).
    p = IzhikevichParams.preset("regular_spiking")
    x = torch.tensor([[3.0, -2.0]], dtype=torch.float64)
    st = izhikevich_init(x, p)
    _, one = izhikevich_step(x, st, p, 1e-3)
    _, half = izhikevich_step(x, st, p, 0.5e-3)
    _, two = izhikevich_step(x, half, p, 0.5e-3)
    torch.testing.assert_close(one.v, two.v, rtol=0, atol=1e-12)
    torch.testing.assert_close(one.u, two.u, rtol=0, atol=1e-12)


def test_preset_constructor_and_overrides() -> None:
    cell = IzhikevichCell("chattering", d=3.0)
    assert (cell.params.a, cell.params.b, cell.params.c, cell.params.d) == (0.02, 0.2, -50.0, 3.0)
    p = IzhikevichParams.preset("fast_spiking", v_peak=35.0)
    assert (p.a, p.d, p.v_peak) == (0.1, 2.0, 35.0)
