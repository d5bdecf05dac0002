"""Encoders: statistics against the binomial law, latency times and delta events by hand."""
from __future__ import annotations

import math

import pytest
import torch

from neuroplastic.encoding import (
    ConstantEncoder,
    DeltaState,
    LatencyEncoder,
    PopulationEncoder,
    RateEncoder,
    delta_encode,
    delta_step,
    latency_encode,
    latency_times,
    poisson_encode,
    population_encode,
    rate_encode,
)


def assert_binomial_mean(spikes: torch.Tensor, p: torch.Tensor) -> None:
    """Mean over time within 5 binomial standard deviations of ``p`` (exact where p is 0 or 1)."""
    T = spikes.shape[0]
    mean = spikes.double().mean(0)
    sd = torch.sqrt(p * (1 - p) / T)
    assert torch.all((mean - p).abs() <= 5 * sd + 1e-12), (mean, p)


def test_rate_code_mean_is_gain_times_x() -> None:
    x = torch.tensor([[0.0, 0.05, 0.3, 0.5, 0.9, 1.0]], dtype=torch.float64).repeat(3, 1)
    g = torch.Generator().manual_seed(0)
    for gain in (1.0, 0.6):
        s = rate_encode(x, 4000, gain=gain, generator=g)
        assert s.shape == (4000, 3, 6) and s.dtype == x.dtype
        assert set(s.unique().tolist()) <= {0.0, 1.0}
        assert_binomial_mean(s, (gain * x).double())
    assert rate_encode(x, 50, generator=g)[:, :, 0].sum() == 0
    assert rate_encode(x, 50, generator=g)[:, :, -1].eq(1).all()
    # gain > 1 is fine while gain * x stays <= 1
    assert_binomial_mean(rate_encode(torch.full((4,), 0.25), 4000, gain=2.0, generator=g), torch.full((4,), 0.5, dtype=torch.float64))


def test_rate_code_is_independent_over_time() -> None:
    s = rate_encode(torch.full((64,), 0.5), 2000, generator=torch.Generator().manual_seed(1)).double()
    c = ((s[1:] - 0.5) * (s[:-1] - 0.5)).mean() / 0.25  # lag-1 autocorrelation
    assert abs(float(c)) < 5 / math.sqrt(s[1:].numel())


def test_poisson_code_uses_exact_bin_probability() -> None:
    # p = 1 - exp(-r dt), not r dt: with r dt = 1 the two differ by 0.37.
    x = torch.tensor([0.0, 0.25, 0.5, 1.0], dtype=torch.float64)
    max_rate, dt = 200.0, 5e-3
    s = poisson_encode(x, 6000, max_rate=max_rate, dt=dt, generator=torch.Generator().manual_seed(2))
    assert_binomial_mean(s, 1.0 - torch.exp(-x * max_rate * dt))


def test_generators_make_codes_reproducible() -> None:
    x = torch.rand(3, 5)
    a = rate_encode(x, 20, generator=torch.Generator().manual_seed(4))
    b = rate_encode(x, 20, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    a = poisson_encode(x, 20, generator=torch.Generator().manual_seed(4))
    b = poisson_encode(x, 20, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b)


def test_rate_encoder_module() -> None:
    x = torch.full((2, 3), 0.4)
    torch.manual_seed(0)
    s = RateEncoder(3000)(x)
    assert s.shape == (3000, 2, 3)
    assert_binomial_mean(s, torch.full((2, 3), 0.4, dtype=torch.float64))
    s = RateEncoder(3000, max_rate=100.0, dt=1e-3)(x)
    assert_binomial_mean(s, torch.full((2, 3), 1 - math.exp(-0.04), dtype=torch.float64))
    c = ConstantEncoder(4)(x)
    assert c.shape == (4, 2, 3) and torch.equal(c[3], x)


def test_latency_linear_times_by_hand() -> None:
    x = torch.tensor([1.0, 0.75, 0.5, 0.1, 0.005, 0.0])
    t = latency_times(x, 9)
    # t = (1 - x) (T - 1); inputs below threshold 0.01 never spike (time T).
    assert t.tolist() == pytest.approx([0.0, 2.0, 4.0, 7.2, 9.0, 9.0])
    s = latency_encode(x, 9)
    assert s.shape == (9, 6)
    assert s.sum(0).tolist() == [1, 1, 1, 1, 0, 0]
    assert torch.nonzero(s.T)[:, 1].tolist() == [0, 2, 4, 7]  # round(7.2) = 7


def test_latency_log_times_by_hand() -> None:
    tau, th, T = 5.0, 0.2, 30
    x = torch.tensor([1.0, 0.5, 0.25, 0.2001, 0.1])  # 0.2001 would spike at 38 > T - 1: clipped
    t = latency_times(x, T, method="log", tau=tau, threshold=th)
    expected = [tau * math.log(1.0 / 0.8), tau * math.log(0.5 / 0.3), tau * math.log(0.25 / 0.05), T - 1, T]
    assert t.tolist() == pytest.approx(expected, rel=1e-5)
    s = LatencyEncoder(T, method="log", tau=tau, threshold=th)(x.unsqueeze(0))
    assert s.shape == (T, 1, 5)
    assert torch.nonzero(s[:, 0].T)[:, 1].tolist() == [round(v) for v in expected[:4]]
    # Stronger inputs never spike later.
    xs = torch.linspace(0.21, 1.0, 50)
    assert torch.all(latency_times(xs, T, method="log", tau=tau, threshold=th).diff() <= 0)


def reconstruct(x0: torch.Tensor, events: torch.Tensor, threshold: float) -> torch.Tensor:
    """What a receiver rebuilds from the events alone: x_0 + threshold * cumsum(ON - OFF)."""
    return x0 + threshold * (events[..., 0] - events[..., 1]).cumsum(0)


def test_delta_events_reconstruct_slow_signal_within_threshold() -> None:
    t = torch.linspace(0, 4 * math.pi, 400, dtype=torch.float64)
    x = torch.stack([torch.sin(t), 0.5 * torch.cos(2 * t) + 0.1 * t], dim=1)  # [T, 2]
    th = 0.05
    assert x.diff(dim=0).abs().max() < th  # slow: moves less than one threshold per step
    ev, state = delta_encode(x, th)
    assert ev.shape == (400, 2, 2) and set(ev.unique().tolist()) <= {0.0, 1.0}
    assert ev.sum() > 50
    rec = reconstruct(x[0], ev, th)
    assert (rec - x).abs().max() < th
    torch.testing.assert_close(rec[-1], state.ref)
    assert ev[0].sum() == 0  # the first sample sets the reference


def test_delta_events_carry_everything_the_encoder_knows() -> None:
    # A fast signal (jumps of several thresholds): the receiver's reconstruction from the events
    # must still equal the encoder's reference level at every step, and the reference must
    # catch up with the signal once it stops moving.
    th = 0.1
    x = torch.tensor([0.0, 0.35, 0.35, 0.35, 0.35, -0.2, -0.2, -0.2, -0.2, -0.2, -0.2], dtype=torch.float64).view(-1, 1)
    ev, _ = delta_encode(x, th)
    rec = reconstruct(x[0], ev, th)
    state, refs = None, []
    for k in range(x.shape[0]):
        _, state = delta_step(x[k], state, th)
        refs.append(state.ref)
    torch.testing.assert_close(rec, torch.stack(refs))
    assert abs(float(rec[4] - 0.35)) < th and abs(float(rec[-1] + 0.2)) < th


def test_delta_encoder_is_causal_and_resumable() -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(50, 3, generator=g).cumsum(0) * 0.1
    ev, st = delta_encode(x, 0.07)
    y = x.clone()
    y[30:] += torch.randn(20, 3, generator=g)  # change the future only
    ev_y, _ = delta_encode(y, 0.07)
    assert torch.equal(ev_y[:30], ev[:30])
    ev1, st1 = delta_encode(x[:20], 0.07)
    ev2, st2 = delta_encode(x[20:], 0.07, st1)
    assert torch.equal(torch.cat([ev1, ev2]), ev)
    torch.testing.assert_close(st2.ref, st.ref)
    ev3, _ = delta_encode(x, 0.07, DeltaState(torch.zeros(3)))
    assert ev3[0].sum() > 0  # a given reference makes the first step emit


def test_population_code_peaks_at_the_right_neuron() -> None:
    x = torch.tensor([[0.0, 0.26, 1.0], [0.5, 0.74, 0.1]])
    r = population_encode(x, 5)  # centres 0, .25, .5, .75, 1; sigma = .25
    assert r.shape == (2, 15)
    peaks = r.view(2, 3, 5).argmax(-1)
    assert peaks.tolist() == [[0, 1, 4], [2, 3, 0]]
    assert float(r[0, 1]) == pytest.approx(math.exp(-(0.25**2) / (2 * 0.25**2)))  # x=0 seen by centre .25
    assert float(r[0, 0]) == 1.0
    r2 = PopulationEncoder(4, low=-1.0, high=2.0, sigma=0.3)(torch.tensor([0.0]))
    centres = torch.tensor([-1.0, 0.0, 1.0, 2.0])
    torch.testing.assert_close(r2, torch.exp(-(centres**2) / (2 * 0.09)))


def test_encoder_bad_input_names_the_fix() -> None:
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\] for rate coding .*scale it first"):
        rate_encode(torch.tensor([0.2, 1.3]), 10)
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        poisson_encode(torch.tensor([-0.1]), 10)
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        latency_encode(torch.tensor([2.0]), 10)
    with pytest.raises(ValueError, match="use gain <= 1 / x.max()"):
        rate_encode(torch.tensor([0.8]), 10, gain=2.0)
    with pytest.raises(ValueError, match=r"(NaN|infinite) values(: clean or impute the input first| \(and|: if the data)"):
        rate_encode(torch.tensor([0.5, float("nan")]), 10)
    with pytest.raises(ValueError, match=r"(NaN|infinite)"):
        delta_encode(torch.tensor([0.0, float("inf")]), 0.1)
    with pytest.raises(ValueError, match=r"(NaN|infinite)"):
        population_encode(torch.tensor([float("nan")]), 4)
    with pytest.raises(ValueError, match="threshold must be finite and > 0"):
        delta_encode(torch.zeros(3), -0.1)
    with pytest.raises(ValueError, match="unknown latency method 'cubic': choose one of"):
        latency_times(torch.tensor([0.5]), 10, method="cubic")
    with pytest.raises(ValueError, match="n_neurons must be >= 2"):
        population_encode(torch.zeros(2), 1)
