r"""Surrogate gradients for the spike threshold.

The forward pass is the Heaviside step :math:`S = \Theta(x)` with :math:`\Theta(0) = 1`, where
``x = v - v_th``. The backward pass replaces :math:`\Theta'(x) = \delta(x)` by the derivative
of a smooth function :math:`\sigma_\alpha` whose sharpness is set by ``alpha``:

=================  ======================================================  ========================
name               surrogate derivative :math:`\sigma'_\alpha(x)`           smooth counterpart
=================  ======================================================  ========================
``fast_sigmoid``   :math:`1 / (1 + \alpha |x|)^2` (SuperSpike)              :math:`x / (1+\alpha|x|)`
``arctan``         :math:`(\alpha/2) / (1 + (\pi \alpha x / 2)^2)`          :math:`\arctan(\pi\alpha x/2)/\pi`
``triangle``       :math:`\alpha \max(0, 1 - \alpha |x|)`                   piecewise quadratic
``sigmoid``        :math:`\alpha s (1 - s)`, :math:`s = 1/(1+e^{-\alpha x})`  :math:`s`
=================  ======================================================  ========================

Example:
    >>> import torch
    >>> from neuroplastic.neurons.surrogate import Surrogate
    >>> x = torch.tensor([-0.5, 0.0, 0.5], requires_grad=True)
    >>> s = Surrogate("fast_sigmoid", alpha=2.0)(x)
    >>> s.tolist()
    [0.0, 1.0, 1.0]
    >>> s.sum().backward()
    >>> [round(g, 4) for g in x.grad.tolist()]
    [0.25, 1.0, 0.25]
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Union

import torch

from neuroplastic._core.checks import check_in_choices, check_positive


def _d_fast_sigmoid(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return 1.0 / (1.0 + alpha * x.abs()) ** 2


def _d_arctan(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return (alpha / 2.0) / (1.0 + (math.pi / 2.0 * alpha * x) ** 2)


def _d_triangle(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return alpha * torch.clamp(1.0 - alpha * x.abs(), min=0.0)


def _d_sigmoid(x: torch.Tensor, alpha: float) -> torch.Tensor:
    s = torch.sigmoid(alpha * x)
    return alpha * s * (1.0 - s)


SURROGATES: dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "fast_sigmoid": _d_fast_sigmoid,
    "arctan": _d_arctan,
    "triangle": _d_triangle,
    "sigmoid": _d_sigmoid,
}
DEFAULT_ALPHA = {"fast_sigmoid": 10.0, "arctan": 2.0, "triangle": 1.0, "sigmoid": 4.0}


class _SpikeFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, name: str, alpha: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.name = name
        ctx.alpha = alpha
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad_out * SURROGATES[ctx.name](x, ctx.alpha), None, None


@dataclass(frozen=True)
class Surrogate:
    """A spike nonlinearity: Heaviside forward, smooth derivative backward.

    Args:
        name: one of ``"fast_sigmoid"``, ``"arctan"``, ``"triangle"``, ``"sigmoid"``.
        alpha: sharpness (larger is closer to the true step); default depends on ``name``.
    """

    name: str = "fast_sigmoid"
    alpha: float | None = None

    def __post_init__(self) -> None:
        check_in_choices("surrogate", self.name, SURROGATES)
        if self.alpha is None:
            object.__setattr__(self, "alpha", DEFAULT_ALPHA[self.name])
        check_positive("surrogate alpha", self.alpha)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Spikes ``(x >= 0)`` with the surrogate derivative in backward."""
        return _SpikeFunction.apply(x, self.name, float(self.alpha))

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        """The surrogate derivative :math:`\\sigma'_\\alpha(x)` (used by fused kernels)."""
        return SURROGATES[self.name](x, float(self.alpha))

    def to_config(self) -> dict:
        return {"name": self.name, "alpha": self.alpha}


SurrogateLike = Union[Surrogate, str, dict, None]


def as_surrogate(s: SurrogateLike) -> Surrogate:
    """Coerce a name, ``{"name":..., "alpha":...}`` dict, ``None`` or :class:`Surrogate`."""
    if s is None:
        return Surrogate()
    if isinstance(s, Surrogate):
        return s
    if isinstance(s, str):
        return Surrogate(s)
    if isinstance(s, dict):
        return Surrogate(**s)
    raise TypeError(f"surrogate must be a name, dict or Surrogate, got {type(s).__name__}")


def spike_fn(x: torch.Tensor, surrogate: SurrogateLike = None) -> torch.Tensor:
    """Heaviside spike of ``x = v - v_th`` with a surrogate gradient."""
    return as_surrogate(surrogate)(x)
