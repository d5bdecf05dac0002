"""Per-neuron parameter tensors (broadcast over the last dim) and the LIF default threshold.

The reference for a population with per-neuron values is the same population split into
single-neuron layers with scalar parameters, plus closed forms where one exists.
"""
from __future__ import annotations

import math

import pytest
import torch

from neuroplastic.network import Sequential
from neuroplastic.neurons import ALIF, IF, LI, LIF, CubaLIF, LIFCell, LIFParams
from neuroplastic.synapses import Dense

TAU = torch.tensor([4e-3, 10e-3, 25e-3])
VTH = torch.tensor([0.3, 0.6, 1.2])


def _columns(make, x: torch.Tensor, per_neuron: dict) -> torch.Tensor:
    """Run column j of ``x[T, B, N]`` through a layer with the scalar values ``per_neuron[k][j]``."""
    outs = []
    for j in range(x.shape[-1]):
        out, _ = make(**{k: float(v[j]) for k, v in per_neuron.items()})(x[..., j:j + 1])
        outs.append(out)
    return torch.cat(outs, dim=-1)


def _drive(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(40, 2, 3, generator=g, dtype=torch.float64) * 3.0


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_lif_per_neuron_tau_and_threshold_equal_separate_neurons(reset: str) -> None:
    x = _drive()
    per = {"tau_mem": TAU, "v_th": VTH}
    s, _ = LIF(reset=reset, r=2.0, **per)(x)
    ref = _columns(lambda **kw: LIF(reset=reset, r=2.0, **kw), x, per)
    assert s.sum() > 10
    assert torch.equal(s, ref)


def test_lif_per_neuron_membrane_matches_closed_form() -> None:
    # No spikes: v(t) = r I (1 - exp(-t / tau_i)) per neuron.
    T, dt, r = 30, 1e-3, 1.5
    current = torch.tensor([0.2, -0.4, 0.7], dtype=torch.float64)
    cell = LIFCell(tau_mem=TAU, v_th=torch.full((3,), 50.0), r=r, dt=dt)
    state = None
    for _ in range(T):
        _, state = cell(current.view(1, 3), state)
    expected = r * current * (1 - torch.exp(-T * dt / TAU.double()))
    torch.testing.assert_close(state.v[0], expected, rtol=1e-12, atol=1e-12)


def test_float32_input_stays_float32_and_params_broadcast_over_trailing_dims() -> None:
    x = torch.rand(5, 2, 4, 3) * 3                     # [T, B, C, N]: per-neuron values over N
    s, st = LIF(tau_mem=TAU, v_th=VTH)(x)
    assert s.dtype == torch.float32 and st.v.dtype == torch.float32
    per_channel = torch.tensor([[0.3], [0.5], [0.9], [1.1]])    # [C, 1]: one value per channel
    s2, _ = LIF(v_th=per_channel)(x)
    assert s2.shape == x.shape


def test_bad_per_neuron_values_name_the_fix() -> None:
    with pytest.raises(ValueError, match="does not broadcast against one input step of shape"):
        LIF(v_th=torch.ones(5))(torch.zeros(2, 1, 3))
    with pytest.raises(ValueError, match="every tau_mem must be > 0"):
        LIFParams(tau_mem=torch.tensor([1e-3, -1e-3]))
    with pytest.raises(ValueError, match="finite per-neuron values"):
        LIFParams(v_leak=torch.tensor([0.0, float("nan")]))
    with pytest.raises(ValueError, match="must be finite and above v_reset"):
        LIFParams(v_th=torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="use backend='reference'"):
        LIF(v_th=VTH, backend="cpu_fused")(torch.zeros(2, 1, 3))


def test_per_neuron_params_round_trip_through_config() -> None:
    layer = LIF(tau_mem=TAU, v_th=VTH, reset="zero")
    cfg = layer.get_config()
    assert cfg["tau_mem"] == pytest.approx(TAU.tolist()) and isinstance(cfg["v_th"], list)
    dt = cfg.pop("dt")
    again = LIF(dt=dt, **cfg)
    x = _drive(1)
    assert torch.equal(layer(x)[0], again(x)[0])


def test_li_per_neuron_closed_form() -> None:
    T, dt = 25, 1e-3
    current = torch.tensor([1.0, 2.0, -1.0], dtype=torch.float64)
    out, _ = LI(tau_mem=TAU, r=torch.tensor([1.0, 0.5, 2.0]), dt=dt)(current.expand(T, 1, 3))
    t = torch.arange(1, T + 1, dtype=torch.float64).view(T, 1, 1) * dt
    expected = torch.tensor([1.0, 0.5, 2.0], dtype=torch.float64) * current * (1 - torch.exp(-t / TAU.double()))
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)


def test_if_per_neuron_threshold_counts_floor() -> None:
    # Subtractive reset: floor(T r x / v_th) spikes per neuron.
    T, x = 20, 0.25
    s, _ = IF(v_th=torch.tensor([0.5, 1.0, 2.0]))(torch.full((T, 1, 3), x, dtype=torch.float64))
    assert s.sum(0).view(-1).tolist() == [math.floor(T * x / v) for v in (0.5, 1.0, 2.0)]


def test_alif_and_cuba_per_neuron_equal_separate_neurons() -> None:
    x = _drive(2)
    per = {"tau_mem": TAU, "v_th": VTH, "beta": torch.tensor([0.0, 0.1, 0.5])}
    s, _ = ALIF(r=2.0, **per)(x)
    assert s.sum() > 10 and torch.equal(s, _columns(lambda **kw: ALIF(r=2.0, **kw), x, per))
    per = {"tau_mem": torch.tensor([10e-3, 20e-3, 20e-3]), "tau_syn_exc": torch.tensor([5e-3, 5e-3, 20e-3]),
           "v_th": torch.tensor([0.2, 0.3, 0.5])}
    kw = dict(v_rest=0.0, v_reset=0.0, t_ref=0.0, dt=1e-4)
    xc = torch.rand(300, 2, 3, dtype=torch.float64) * 0.02
    s, _ = CubaLIF(**kw, **per)(xc)
    ref = _columns(lambda **p: CubaLIF(**kw, **p), xc, per)
    assert s.sum() > 3 and torch.equal(s, ref)


def test_default_lif_behind_default_dense_fires_on_standardised_input() -> None:
    torch.manual_seed(0)
    x = torch.randn(1, 256, 20).expand(8, -1, -1)       # standardised features held for 8 steps
    net = Sequential(Dense(20, 64), LIF())
    with torch.no_grad():
        s, _ = net(x)
    fired = (s.sum(0) > 0).double().mean()
    assert fired > 0.2, f"only {float(fired):.1%} of neurons fired"
    # The former default (v_th = 1) stays silent on the same currents: why the default changed.
    with torch.no_grad():
        old, _ = LIF(v_th=1.0)(net[0](x))
    assert (old.sum(0) > 0).double().mean() < 0.01


def test_default_threshold_equals_unscaled_input_at_threshold_one() -> None:
    # v_th = 0.1 with r = 1 is v_th = 1 with r = 10: the membrane is 10x, the spikes the same.
    x = torch.randn(30, 4, 6, dtype=torch.float64)
    s_default, st = LIF()(x)
    s_scaled, st10 = LIF(v_th=1.0, r=10.0)(x)
    assert torch.equal(s_default, s_scaled)
    torch.testing.assert_close(st10.v, 10 * st.v, rtol=1e-12, atol=1e-12)
