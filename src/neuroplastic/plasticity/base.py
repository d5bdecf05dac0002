"""The plasticity-rule contract, the rule registry and the batch-reduction helpers.

A rule is a frozen dataclass of settings (validated on construction) with two methods:

* ``init_state(pre, post, weight) -> NamedTuple``: the rule's traces at rest;
* ``step(pre, post, weight, state, *, modulator=None) -> (dw, new_state)``: one time step.

``pre`` is ``[B, n_in]``, ``post`` is ``[B, n_out]`` and ``weight`` is ``[n_out, n_in]`` (the
:class:`torch.nn.Linear` convention); ``dw`` has the weight's shape (or ``[B, n_out, n_in]`` with
``reduction="none"``). ``step`` runs under :func:`torch.no_grad` on detached activity, computes in
the weight's dtype and never mutates its inputs. ``state=None`` means "start at rest".

Every rule writes its update as a sum over the batch of per-sample terms, which is why one
explicit ``reduction`` covers them all:

* ``"mean"``: :math:`\\Delta W = \\frac{1}{B} \\sum_b \\Delta W^{(b)}`;
* ``"sum"``: :math:`\\Delta W = \\sum_b \\Delta W^{(b)}`;
* ``"none"``: the stacked per-sample updates ``[B, n_out, n_in]`` (memory heavy; for analysis).

A ``modulator`` (third factor: reward, dopamine, attention) is a scalar, a ``[B]`` tensor (one
value per sample) or a ``[B, n_out]`` tensor (one per sample and post-synaptic neuron); it
multiplies each sample's (and neuron's) contribution *before* the reduction. Two-factor rules treat
``modulator=None`` as 1; reward-modulated rules treat it as "no reward this step" (``dw = 0``).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, ClassVar, NamedTuple, TypeVar

import torch

from neuroplastic._core.checks import check_batch, check_in_choices

REDUCTIONS = ("mean", "sum", "none")

_RULES: dict[str, type["Rule"]] = {}
R = TypeVar("R", bound=type)


class NoState(NamedTuple):
    """State of a rule without traces (an empty NamedTuple)."""


def register_rule(name: str) -> Callable[[R], R]:
    """Class decorator: make a rule available as ``get_rule(name, **settings)``."""

    def deco(cls: R) -> R:
        old = _RULES.get(name)
        if old is not None and old.__qualname__ != cls.__qualname__:  # same class re-imported (reload) is fine
            raise ValueError(f"rule name {name!r} is already taken by {_RULES[name].__name__}: pick another name")
        cls.name = name  # type: ignore[attr-defined]
        _RULES[name] = cls  # type: ignore[assignment]
        return cls

    return deco


def available_rules() -> list[str]:
    """Names of all registered rules, sorted."""
    return sorted(_RULES)


def get_rule(name: str, **settings: Any) -> "Rule":
    """Build the registered rule ``name`` with keyword ``settings``.

    Example:
        >>> from neuroplastic.plasticity import get_rule
        >>> get_rule("oja", lr=0.01).lr
        0.01
    """
    if isinstance(name, Rule):
        if settings:
            return dataclasses.replace(name, **settings)
        return name
    if name not in _RULES:
        raise ValueError(f"unknown rule {name!r}: choose one of {', '.join(map(repr, available_rules()))}")
    return _RULES[name](**settings)


def rule_from_config(config: dict) -> "Rule":
    """Inverse of :meth:`Rule.get_config`."""
    cfg = dict(config)
    return get_rule(cfg.pop("rule"), **cfg)


def _check_time(name: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number of seconds, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite positive time in seconds, got {value!r}: pass e.g. {name}=20e-3")
    return v


def _check_nonneg(name: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}: pass a non-negative value "
                         "(the sign of each term is fixed by the rule)")
    return v


def _check_finite_number(name: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def check_bounds(wmin: float, wmax: float) -> tuple[float, float]:
    """Validate a weight interval; infinite bounds are allowed, NaN and ``wmin > wmax`` are not."""
    lo, hi = float(wmin), float(wmax)
    if math.isnan(lo) or math.isnan(hi):
        raise ValueError(f"weight bounds must not be NaN, got wmin={wmin!r}, wmax={wmax!r}")
    if lo > hi:
        raise ValueError(f"wmin ({wmin}) > wmax ({wmax}): swap them or widen the interval")
    return lo, hi


@dataclasses.dataclass(frozen=True, kw_only=True)
class Rule:
    """Base class of all plasticity rules (settings only; see the module docstring).

    Attributes:
        reduction: how per-sample updates are combined over the batch: ``"mean"``, ``"sum"`` or
            ``"none"`` (stacked ``[B, n_out, n_in]``).
    """

    name: ClassVar[str] = "rule"
    three_factor: ClassVar[bool] = False
    reduction: str = "mean"

    def __post_init__(self) -> None:
        check_in_choices("reduction", self.reduction, REDUCTIONS)
        self.validate()

    def validate(self) -> None:
        """Check the settings; subclasses raise ``ValueError`` naming the fix."""

    # ----------------------------------------------------------------- public contract
    def init_state(self, pre: torch.Tensor, post: torch.Tensor, weight: torch.Tensor) -> NamedTuple:
        """State at rest for activity shaped like ``pre`` ``[B, n_in]`` and ``post`` ``[B, n_out]``."""
        pre, post = self._check_shapes(pre, post, weight)
        return self._init(pre.to(weight.dtype), post.to(weight.dtype), weight.detach())

    def step(
        self,
        pre: torch.Tensor,
        post: torch.Tensor | None,
        weight: torch.Tensor,
        state: NamedTuple | None = None,
        *,
        modulator: float | torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, NamedTuple]:
        """One step of the rule: returns ``(dw, new_state)``; never mutates its inputs.

        Args:
            pre: pre-synaptic activity ``[B, n_in]`` at this step (spikes, rates, pixel values).
            post: post-synaptic activity ``[B, n_out]`` (rules that compute their own competition,
                Krotov-Hopfield and SoftHebb, accept ``None`` and use ``weight @ pre``).
            weight: ``[n_out, n_in]``.
            state: the rule's state from the previous step, or None to start at rest.
            modulator: third factor (scalar, ``[B]`` or ``[B, n_out]``), see the module docstring.
        """
        with torch.no_grad():
            weight = weight.detach()
            pre = self._as_activity("pre", pre, weight)
            if post is None:
                post = self._default_post(pre, weight)
            else:
                post = self._as_activity("post", post, weight)
            pre, post = self._check_shapes(pre, post, weight)
            if state is None:
                state = self._init(pre, post, weight)
            m = self._modulator(modulator, pre.shape[0], weight.shape[0], weight)
            dw, new_state = self._step(pre, post, weight, state, m)
        return dw, new_state

    def get_config(self) -> dict:
        """JSON-able settings, ``{"rule": name, **fields}``; inverse: :func:`rule_from_config`."""
        return {"rule": self.name, **dataclasses.asdict(self)}

    # ----------------------------------------------------------------- to implement
    def _init(self, pre: torch.Tensor, post: torch.Tensor, weight: torch.Tensor) -> NamedTuple:
        return NoState()

    def _step(self, pre, post, weight, state, m):  # pragma: no cover - abstract
        raise NotImplementedError

    def _default_post(self, pre: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        raise ValueError(f"rule {self.name!r} needs the post-synaptic activity: pass post=[B, n_out]")

    # ----------------------------------------------------------------- helpers
    @staticmethod
    def _as_activity(name: str, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if x.device != weight.device:
            raise ValueError(f"{name} is on {x.device} but the weight is on {weight.device}: move them to one device")
        return x.detach().to(weight.dtype)

    def _check_shapes(self, pre: torch.Tensor, post: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if weight.ndim != 2:
            raise ValueError(f"weight must be [n_out, n_in], got shape {tuple(weight.shape)}: "
                             "wrap convolutions in Plastic(...) (it unfolds them) or flatten the weight")
        n_out, n_in = weight.shape
        if pre.ndim != 2 or pre.shape[1] != n_in:
            raise ValueError(f"pre has shape {tuple(pre.shape)} but [B, {n_in}] is expected for weight "
                             f"{tuple(weight.shape)}: pass one time step, flattened (pre.flatten(1))")
        if post.ndim != 2 or post.shape[1] != n_out:
            raise ValueError(f"post has shape {tuple(post.shape)} but [B, {n_out}] is expected for weight "
                             f"{tuple(weight.shape)}: pass one time step, flattened (post.flatten(1))")
        check_batch("post", post.shape[0], pre.shape[0])
        return pre, post

    @staticmethod
    def _modulator(m: Any, batch: int, n_out: int, weight: torch.Tensor) -> torch.Tensor | None:
        """Normalise a modulator to ``[1, 1]``, ``[B, 1]`` or ``[B, n_out]`` (or None)."""
        if m is None:
            return None
        m = torch.as_tensor(m, dtype=weight.dtype, device=weight.device).detach()
        if m.ndim == 0:
            return m.reshape(1, 1)
        if m.ndim == 1 and m.shape[0] == batch:
            return m.reshape(batch, 1)
        if m.ndim == 2 and m.shape == (batch, n_out):
            return m
        raise ValueError(f"modulator has shape {tuple(m.shape)}: pass a scalar, [B]=[{batch}] (one value per "
                         f"sample) or [B, n_out]=[{batch}, {n_out}]")

    @staticmethod
    def _check_state_batch(name: str, t: torch.Tensor, batch: int) -> None:
        check_batch(f"{name} state", t.shape[0], batch)

    # bilinear building blocks: every rule is a combination of these
    def _outer(self, a: torch.Tensor, c: torch.Tensor, m: torch.Tensor | None = None) -> torch.Tensor:
        """Reduce over the batch of ``m_b * a_b c_b^T`` (``a`` [B, n_out], ``c`` [B, n_in])."""
        if m is not None:
            a = a * m
        if self.reduction == "none":
            return a.unsqueeze(2) * c.unsqueeze(1)
        out = a.transpose(0, 1) @ c
        return out / a.shape[0] if self.reduction == "mean" else out

    def _rows(self, d: torch.Tensor, m: torch.Tensor | None = None) -> torch.Tensor:
        """Reduce ``m_b * d_b`` (``d`` [B, n_out]) over the batch; returns a column to broadcast on W."""
        if m is not None:
            d = d * m
        if self.reduction == "none":
            return d.unsqueeze(2)
        out = d.sum(0) if self.reduction == "sum" else d.mean(0)
        return out.unsqueeze(1)

    def _reduce(self, x: torch.Tensor) -> torch.Tensor:
        """Reduce a stacked per-sample tensor ``[B, ...]`` over the batch."""
        if self.reduction == "none":
            return x
        return x.sum(0) if self.reduction == "sum" else x.mean(0)


def decay(dt: float, tau: float) -> float:
    """Exact per-step decay factor :math:`e^{-dt/\\tau}` of an exponential trace."""
    return math.exp(-dt / tau)
