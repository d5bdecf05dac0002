"""Bad settings fail on construction with messages that name the fix."""
from __future__ import annotations

import pytest
import torch

from neuroplastic.plasticity import BCM, RSTDP, STDP, KrotovHopfield, SoftHebb, TripletSTDP, get_rule

TIME_FIELDS = [
    ("stdp", "tau_plus"), ("stdp", "tau_minus"), ("stdp", "dt"),
    ("triplet_stdp", "tau_x"), ("triplet_stdp", "tau_y"),
    ("rstdp", "tau_e"), ("bcm", "tau_theta"), ("scaling", "tau_avg"),
]


@pytest.mark.parametrize("name, field", TIME_FIELDS)
@pytest.mark.parametrize("bad", [-1e-3, 0.0, float("nan"), float("inf")])
def test_non_positive_time_constants(name: str, field: str, bad: float) -> None:
    with pytest.raises(ValueError, match=f"{field} must be a finite positive time in seconds.*{field}=20e-3"):
        get_rule(name, **{field: bad})


@pytest.mark.parametrize("make, match", [
    (lambda: STDP(weight_dependence="multiplicative", wmin=1.0, wmax=0.0), r"wmin \(1.0\) > wmax \(0.0\): swap them"),
    (lambda: TripletSTDP(wmin=2.0, wmax=1.0), "swap them"),
    (lambda: STDP(weight_dependence="multiplicative", wmax=float("inf")), "needs finite wmin and wmax"),
    (lambda: STDP(trace="nearest_neighbour"), "unknown trace 'nearest_neighbour': choose one of 'all', 'nearest'"),
    (lambda: STDP(weight_dependence="soft"), "choose one of 'additive', 'multiplicative'"),
    (lambda: STDP(a_plus=-0.1), "a_plus must be finite and >= 0"),
    (lambda: RSTDP(a_minus=-1.0), "a_minus must be finite and >= 0"),
    (lambda: BCM(reduction="avg"), "unknown reduction 'avg': choose one of 'mean', 'sum', 'none'"),
    (lambda: KrotovHopfield(p=0.5), "p must be >= 1"),
    (lambda: KrotovHopfield(k=0), "k must be an integer >= 1"),
    (lambda: KrotovHopfield(delta=-0.4), "delta must be finite and >= 0"),
    (lambda: SoftHebb(temperature=0.0), "temperature must be > 0"),
    (lambda: SoftHebb(lr=float("nan")), "lr must be finite"),
    (lambda: get_rule("stpd"), "unknown rule 'stpd': choose one of .*'stdp'"),
    (lambda: get_rule("seed", positive="both"), "unknown positive 'both'"),
])
def test_bad_settings(make, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_unknown_setting_name_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="tau_pls"):
        get_rule("stdp", tau_pls=20e-3)


def test_step_input_errors() -> None:
    rule = get_rule("hebb")
    w = torch.rand(3, 4)
    with pytest.raises(ValueError, match="weight must be \\[n_out, n_in\\].*Plastic"):
        rule.step(torch.rand(2, 4), torch.rand(2, 3), torch.rand(3, 2, 2))
    with pytest.raises(ValueError, match="pass one time step, flattened"):
        rule.step(torch.rand(5, 2, 4), torch.rand(2, 3), w)
    with pytest.raises(TypeError, match="pre must be a torch.Tensor"):
        rule.step([[0.0] * 4], torch.rand(1, 3), w)
    with pytest.raises(ValueError, match="needs the post-synaptic activity"):
        rule.step(torch.rand(2, 4), None, w)
    with pytest.raises(ValueError, match="k=2 exceeds the 1 output units"):
        get_rule("krotov").step(torch.rand(2, 4), None, torch.rand(1, 4))
