"""The plasticity-rule contract, the rule registry and the batch-reduction helpers.

A rule is a frozen dataclass of settings (validated on construction) with these methods:

* ``init_state(pre, post, weight) -> NamedTuple``: the rule's traces at rest;
* ``step(pre, post, weight, state, *, modulator=None) -> (dw, new_state)``: one time step;
* ``sequence(pre[T], post[T], weight, state, *, modulator=None) -> (dw, new_state)``: a whole
  presentation with the weight held fixed (sum of the steps' ``dw``), vectorised over time;
* ``accumulate_(target, pre, post, weight, state, *, alpha, modulator)``: ``target += alpha * dw``
  in place, event-driven for spike-triggered rules (used by
  :class:`~neuroplastic.plasticity.Plastic`).

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
            pre, post, weight, state, m = self._prepare(pre, post, weight, state, modulator)
            dw, new_state = self._step(pre, post, weight, state, m)
        return dw, new_state

    def _prepare(self, pre, post, weight, state, modulator):
        """Detach, cast to the weight's dtype, check shapes, start the state, normalise the modulator."""
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
        return pre, post, weight, state, m

    def sequence(
        self,
        pre: torch.Tensor,
        post: torch.Tensor | None,
        weight: torch.Tensor,
        state: NamedTuple | None = None,
        *,
        modulator: float | torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, NamedTuple]:
        """A whole presentation at once: the sum over ``T`` of :meth:`step`'s ``dw`` with the weight
        held fixed, and the state after the last step.

        Exactly equal to ``sum(step(pre[t], post[t], weight, state_t)[0] for t)`` (same modulator at
        every step). Rules override ``_sequence`` with a vectorised version (trace scans over time
        and one GEMM over all ``T*B`` rows) which is much faster than ``T`` separate steps; the
        others fall back to the loop. Use it to apply plasticity once per sample/batch.

        Args:
            pre: ``[T, B, n_in]``; post: ``[T, B, n_out]`` (or None where the rule allows it).
        """
        if not isinstance(pre, torch.Tensor) or pre.ndim != 3:
            raise ValueError(f"pre must be time-first [T, B, n_in], got {getattr(pre, 'shape', type(pre).__name__)}: "
                             "use step() for a single time step")
        if post is not None and (post.ndim != 3 or post.shape[0] != pre.shape[0]):
            raise ValueError(f"post has shape {tuple(post.shape)} but [T={pre.shape[0]}, B, n_out] is expected: "
                             "pass time-first activity of the same length as pre")
        with torch.no_grad():
            w = weight.detach()
            p0, q0, _, st, m = self._prepare(pre[0], None if post is None else post[0], w, state, modulator)
            pre_c = self._as_activity("pre", pre, w)
            post_c = None if post is None else self._as_activity("post", post, w)
            out = self._sequence(pre_c, post_c, w, st, m)
            if out is not NotImplemented:
                return out
            total = None
            for t in range(pre.shape[0]):
                dw, st = self.step(pre[t], None if post is None else post[t], w, st, modulator=modulator)
                total = dw if total is None else total.add_(dw)
        return total, st

    def _sequence(self, pre, post, weight, state, m):
        """Vectorised :meth:`sequence` (``pre`` ``[T, B, n_in]``) or ``NotImplemented`` to loop."""
        if not self._stateless_in_time():
            return NotImplemented
        t_len, batch = pre.shape[:2]
        pre_rows = pre.reshape(t_len * batch, -1)
        post_rows = None if post is None else post.reshape(t_len * batch, -1)
        m_rows = self._time_rows(m, t_len)

        def run(rule: "Rule") -> torch.Tensor:
            q = post_rows if post_rows is not None else rule._default_post(pre_rows, weight)
            return rule._step(pre_rows, q, weight, state, m_rows)[0]

        return self._merge_time(run, t_len, batch), state

    @staticmethod
    def _time_rows(m: torch.Tensor | None, t_len: int) -> torch.Tensor | None:
        """Repeat a per-sample modulator for ``T`` merged steps (rows ordered ``t * B + b``)."""
        return m.repeat(t_len, 1) if (m is not None and m.shape[0] > 1) else m

    def _stateless_in_time(self) -> bool:
        """True when ``dw`` of a step depends only on that step (then ``T`` can merge into the batch)."""
        return False

    def _merge_time(self, fn: Callable[["Rule"], torch.Tensor], t_len: int, batch: int) -> torch.Tensor:
        """Run ``fn(rule)`` on ``T*B`` merged rows and reduce as ``T`` steps of ``B`` samples would."""
        tmp = self if self.reduction != "mean" else dataclasses.replace(self, reduction="sum")
        dw = fn(tmp)
        if self.reduction == "mean":
            return dw.div_(batch)
        if self.reduction == "none":
            return dw.reshape(t_len, batch, *dw.shape[1:]).sum(0)
        return dw

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

    # bilinear building blocks: every rule is a combination of these. Scalars are folded into the
    # small [B, n] factors so that each term costs one GEMM and one weight-sized allocation.
    def _outer(self, a: torch.Tensor, c: torch.Tensor, m: torch.Tensor | None = None, scale: float = 1.0) -> torch.Tensor:
        """``scale`` times the batch reduction of ``m_b * a_b c_b^T`` (``a`` [B, n_out], ``c`` [B, n_in])."""
        return self._outer_sum(((a, c, 1.0),), m, scale)

    def _outer_sum(self, terms: tuple[tuple[torch.Tensor, torch.Tensor, float], ...], m: torch.Tensor | None = None,
                   scale: float = 1.0) -> torch.Tensor:
        """``scale * reduce_b sum_k s_k m_b a_kb c_kb^T`` for terms ``(a_k, c_k, s_k)``: one weight-sized
        output, accumulated with ``addmm`` (no weight-sized temporaries)."""
        batch = terms[0][0].shape[0]
        if self.reduction == "none":
            out = None
            for a, c, s in terms:
                a = a * m if m is not None else a
                t = a.unsqueeze(2) * c.unsqueeze(1)
                out = t.mul_(s * scale) if out is None else out.add_(t, alpha=s * scale)
            return out
        if self.reduction == "mean":
            scale = scale / batch
        out = None
        for a, c, s in terms:
            if m is not None:
                a = a * m
            a, c = _active_rows(a, c)
            if out is None:
                out = torch.addmm(a.new_empty(a.shape[1], c.shape[1]), a.T, c, beta=0.0, alpha=s * scale)
            else:
                out.addmm_(a.T, c, alpha=s * scale)
        return out

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

    # ----------------------------------------------------------------- fused application
    def accumulate_(
        self,
        target: torch.Tensor,
        pre: torch.Tensor,
        post: torch.Tensor | None,
        weight: torch.Tensor,
        state: NamedTuple | None = None,
        *,
        alpha: float = 1.0,
        modulator: float | torch.Tensor | None = None,
    ) -> tuple[NamedTuple, tuple[torch.Tensor, torch.Tensor] | None]:
        """Add ``alpha * dw`` into ``target`` in place (a weight, or a weight's ``.grad``).

        Same result as ``target += alpha * step(...)[0]``; rules driven by sparse spikes
        (STDP, triplet STDP) override it to touch only the rows of post-synaptic neurons and the
        columns of pre-synaptic inputs that spiked. Returns ``(new_state, touched)`` where
        ``touched`` is ``(rows, cols)`` index tensors of what may have changed, or None for
        "everything" (used to re-apply bounds only where needed).
        """
        if self.reduction == "none":
            raise ValueError("accumulate_ needs one dw per step: use reduction='mean' or 'sum'")
        dw, state = self.step(pre, post, weight, state, modulator=modulator)
        with torch.no_grad():
            target.add_(dw, alpha=alpha)
        return state, None


def _active_rows(a: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop the rows where ``a`` is all zero (they add nothing to ``a^T c``).

    Spikes are sparse in time: over a presentation, most steps have no post-synaptic spike, so
    the potentiation GEMM shrinks from ``T*B`` rows to a handful. Done on CPU only (finding the
    rows synchronises a GPU, whose dense GEMM is cheap anyway) and only when it pays.
    """
    if a.device.type != "cpu" or a.shape[0] < 16:
        return a, c
    idx = a.any(1).nonzero().squeeze(1)
    if idx.numel() > a.shape[0] // 2:
        return a, c
    return a.index_select(0, idx), c.index_select(0, idx)


def decay(dt: float, tau: float) -> float:
    """Exact per-step decay factor :math:`e^{-dt/\\tau}` of an exponential trace."""
    return math.exp(-dt / tau)
