"""Bad input fails early with a message that names the fix."""
from __future__ import annotations

import pytest
import torch

from neuroplastic.encoding import latency_encode, poisson_encode, rate_encode
from neuroplastic.network import Sequential
from neuroplastic.neurons import (
    ALIF,
    LI,
    LIF,
    ALIFCell,
    ALIFParams,
    Izhikevich,
    IzhikevichCell,
    IzhikevichParams,
    LICell,
    LIFCell,
    LIFParams,
    LIParams,
)
from neuroplastic.synapses import Dense, RecurrentLIF

NAN = float("nan")


@pytest.mark.parametrize("module", [LIF(), ALIF(), Izhikevich(), LI(), RecurrentLIF(3, 3)], ids=type)
def test_nan_input_to_sequence_modules(module) -> None:
    x = torch.rand(4, 2, 3)
    x[2, 1, 0] = NAN
    with pytest.raises(ValueError, match=r"input contains 1 (NaN|infinite) values(: clean or impute the input first| \(and|: if the data)"):
        module(x)
    x[2, 1, 0] = float("inf")
    with pytest.raises(ValueError, match=r"(NaN|infinite)"):
        module(x)


@pytest.mark.parametrize("cell", [LIFCell(), ALIFCell(), IzhikevichCell(), LICell()], ids=type)
def test_nan_input_to_cells(cell) -> None:
    with pytest.raises(ValueError, match=r"(NaN|infinite) values"):
        cell(torch.tensor([[0.1, NAN]]))


def test_nan_propagates_to_an_error_through_a_network() -> None:
    net = Sequential(Dense(2, 3), LIF())
    with pytest.raises(ValueError, match=r"(NaN|infinite)"):
        net(torch.tensor([[[0.1, NAN]]]))


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda: LIFParams(tau_mem=-1e-3), "tau_mem must be finite and > 0, got -0.001: pass a positive value in seconds"),
        (lambda: LIFParams(tau_mem=0.0), "tau_mem must be finite and > 0"),
        (lambda: LIFParams(tau_mem=float("nan")), "tau_mem must be finite"),
        (lambda: LIFParams(t_ref=-1e-3), "t_ref must be finite and >= 0, got -0.001: pass a non-negative value in seconds"),
        (lambda: LIFParams(v_th=0.0, v_reset=0.0), r"v_th \(0.0\) must be finite and above v_reset \(0.0\): raise v_th or lower v_reset"),
        (lambda: LIFParams(v_th=-1.0), "raise v_th or lower v_reset"),
        (lambda: LIFParams(v_th=float("inf")), "must be finite and above v_reset"),
        (lambda: LIFParams(reset="hard"), "unknown reset 'hard': choose one of 'subtract', 'zero', 'none'"),
        (lambda: LIFParams(surrogate="relu"), "unknown surrogate 'relu': choose one of"),
        (lambda: ALIFParams(tau_adapt=-0.1), "tau_adapt must be finite and > 0"),
        (lambda: ALIFParams(beta=-0.1), "beta must be finite and >= 0"),
        (lambda: ALIFParams(v_th=0.0), "raise v_th or lower v_reset"),
        (lambda: ALIFParams(t_ref=-1.0), "t_ref must be finite and >= 0"),
        (lambda: ALIFParams(reset="soft"), "unknown reset 'soft': choose one of"),
        (lambda: LIParams(tau_mem=-2.0), "tau_mem must be finite and > 0"),
        (lambda: IzhikevichParams(a=0.0), "a must be finite and > 0"),
        (lambda: IzhikevichParams(c=40.0), r"reset c \(40.0\) must be below v_peak \(30.0\)"),
        (lambda: IzhikevichParams.preset("resonator"), "unknown Izhikevich preset 'resonator': choose one of"),
        (lambda: Izhikevich("tonic"), "unknown Izhikevich preset 'tonic': choose one of 'regular_spiking'"),
        (lambda: LIF(dt=-1e-3), "dt must be finite and > 0, got -0.001: pass a positive value in seconds"),
        (lambda: LIF(dt=0), "dt must be finite and > 0"),
        (lambda: RecurrentLIF(2, 3, dt=-1.0), "dt must be finite and > 0"),
        (lambda: RecurrentLIF(2, 3, tau_mem=-1.0), "tau_mem must be finite and > 0"),
    ],
)
def test_bad_parameters(make, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        make()


def test_unknown_parameter_name_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="tau_m"):
        LIF(tau_m=1e-3)


def test_wrong_shapes() -> None:
    with pytest.raises(ValueError, match="Dense expects 3 input features, got shape .*check in_features or add a Flatten"):
        Dense(3, 2)(torch.rand(4, 2, 5))
    for m in (LIF(), ALIF(), Izhikevich(), LI()):
        with pytest.raises(ValueError, match=r"time-first tensor \[T, B, ...\].*add a time axis with x.unsqueeze\(0\)"):
            m(torch.rand(5))
    with pytest.raises(ValueError, match="time-first tensor .* at least 3 dims .*unsqueeze"):
        RecurrentLIF(3, 2)(torch.rand(2, 3))
    with pytest.raises(TypeError, match="input must be a torch.Tensor, got list"):
        LIF()([[1.0]])
    with pytest.raises(ValueError, match=r"input must have a batch dimension \[B, ...\]"):
        LIFCell()(torch.tensor(1.0))


def test_rate_code_input_outside_unit_interval() -> None:
    for fn in (rate_encode, poisson_encode, latency_encode):
        with pytest.raises(ValueError, match=r"must lie in \[0, 1\] for rate coding \(got \[-0.5, 3\]\): scale it first"):
            fn(torch.tensor([-0.5, 0.2, 3.0]), 10)
