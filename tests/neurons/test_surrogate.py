"""Surrogate gradients: documented derivative, finite differences of the smooth counterpart."""
from __future__ import annotations

import math

import pytest
import torch

from neuroplastic.neurons import SURROGATES, Surrogate, spike_fn
from neuroplastic.neurons.surrogate import DEFAULT_ALPHA, as_surrogate


def smooth(name: str, x: torch.Tensor, a: float) -> torch.Tensor:
    """The documented smooth counterpart sigma_alpha(x), written independently of the library."""
    if name == "fast_sigmoid":
        return x / (1 + a * x.abs())
    if name == "arctan":
        return torch.atan(math.pi * a * x / 2) / math.pi
    if name == "sigmoid":
        return torch.sigmoid(a * x)
    if name == "triangle":
        inside = torch.sign(x) * (a * x.abs() - 0.5 * a * a * x * x)
        return torch.where(x.abs() <= 1 / a, inside, 0.5 * torch.sign(x))
    raise AssertionError(name)


def documented_derivative(name: str, x: torch.Tensor, a: float) -> torch.Tensor:
    if name == "fast_sigmoid":
        return 1 / (1 + a * x.abs()) ** 2
    if name == "arctan":
        return (a / 2) / (1 + (math.pi * a * x / 2) ** 2)
    if name == "sigmoid":
        s = 1 / (1 + torch.exp(-a * x))
        return a * s * (1 - s)
    if name == "triangle":
        return a * torch.clamp(1 - a * x.abs(), min=0)
    raise AssertionError(name)


NAMES = sorted(SURROGATES)
ALPHAS = [0.7, 2.0, 5.0]


def away_from_kinks(name: str, a: float) -> torch.Tensor:
    x = torch.tensor([-2.3, -0.9, -0.31, -0.07, 0.05, 0.17, 0.42, 1.1, 3.0], dtype=torch.float64)
    # fast_sigmoid and triangle derivatives have kinks at 0; triangle also at +-1/alpha.
    kinks = torch.tensor([0.0, 1 / a, -1 / a], dtype=torch.float64)
    keep = (x.unsqueeze(1) - kinks).abs().min(1).values > 0.02
    return x[keep]


def test_all_documented_surrogates_are_tested() -> None:
    assert set(NAMES) == {"fast_sigmoid", "arctan", "sigmoid", "triangle"}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("alpha", ALPHAS)
def test_forward_is_heaviside_with_theta0_equal_one(name: str, alpha: float) -> None:
    x = torch.tensor([-1.0, -1e-7, 0.0, 1e-7, 2.0])
    assert Surrogate(name, alpha)(x).tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("alpha", ALPHAS)
def test_backward_equals_documented_derivative(name: str, alpha: float) -> None:
    x = torch.linspace(-3, 3, 61, dtype=torch.float64, requires_grad=True)
    g = torch.linspace(0.5, 1.5, 61, dtype=torch.float64)  # non-trivial upstream gradient
    Surrogate(name, alpha)(x).backward(g)
    torch.testing.assert_close(x.grad, g * documented_derivative(name, x.detach(), alpha), rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(Surrogate(name, alpha).derivative(x.detach()), documented_derivative(name, x.detach(), alpha))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("alpha", ALPHAS)
def test_backward_equals_finite_difference_of_smooth_counterpart(name: str, alpha: float) -> None:
    x = away_from_kinks(name, alpha)
    h = 1e-6
    fd = (smooth(name, x + h, alpha) - smooth(name, x - h, alpha)) / (2 * h)
    xr = x.clone().requires_grad_(True)
    Surrogate(name, alpha)(xr).sum().backward()
    torch.testing.assert_close(xr.grad, fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_smooth_counterpart_gradcheck(name: str) -> None:
    # The counterparts written above are differentiable where claimed: autograd agrees with finite
    # differences in double precision, so the FD comparison above tests the surrogate, not the test.
    x = away_from_kinks(name, 2.0).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: smooth(name, t, 2.0), (x,))


def test_default_alpha_and_coercion() -> None:
    for name in NAMES:
        assert Surrogate(name).alpha == DEFAULT_ALPHA[name]
    assert as_surrogate(None) == Surrogate("fast_sigmoid")
    assert as_surrogate("arctan") == Surrogate("arctan")
    assert as_surrogate({"name": "sigmoid", "alpha": 3.0}) == Surrogate("sigmoid", 3.0)
    s = Surrogate("triangle", 0.5)
    assert as_surrogate(s) is s
    assert Surrogate(**s.to_config()) == s
    x = torch.tensor([0.3], requires_grad=True)
    spike_fn(x, "arctan").backward()
    assert float(x.grad) == pytest.approx(1.0 / (1 + (math.pi * 0.3) ** 2), rel=1e-6)


def test_bad_surrogate_arguments_name_the_fix() -> None:
    with pytest.raises(ValueError, match="unknown surrogate 'heaviside': choose one of"):
        Surrogate("heaviside")
    with pytest.raises(ValueError, match="surrogate alpha must be finite and > 0"):
        Surrogate("arctan", -1.0)
    with pytest.raises(TypeError, match="surrogate must be a name, dict or Surrogate"):
        as_surrogate(3.0)
