"""Spike-timing-dependent plasticity with exponential traces: pair-based and triplet STDP.

Timing convention (one step of length ``dt``; Brian2's ``on_pre`` before ``on_post`` order):
traces decay first; a post-synaptic spike then reads the pre-synaptic trace *including* this
step's pre spikes (in discrete time a pre spike can cause a post spike within the same step, so a
coincidence counts as causal, potentiation); a pre-synaptic spike reads the post-synaptic trace
*excluding* this step's post spikes. Hence for one pre/post pair ``dt_spike = t_post - t_pre``:

.. math::
    \\Delta w = A_+ e^{-\\Delta t/\\tau_+} \\;(\\Delta t \\ge 0), \\qquad
    \\Delta w = -A_- e^{\\Delta t/\\tau_-} \\;(\\Delta t < 0).

Spikes are values > 0 (binary spikes are the usual case); traces live in the rule state, one per
sample, so batches of independent simulations learn in one call.
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar, NamedTuple

import torch

from neuroplastic._core.checks import check_in_choices
from neuroplastic.plasticity._scan import previous, trace_scan
from neuroplastic.plasticity.base import Rule, _check_nonneg, _check_time, check_bounds, decay, register_rule

TRACES = ("all", "nearest")
DEPENDENCES = ("additive", "multiplicative")


def trace_step(x: torch.Tensor, s: torch.Tensor, a: float, mode: str) -> torch.Tensor:
    r"""One step of an exponential spike trace: :math:`x \leftarrow a x + s` (``"all"``: every
    earlier spike counts, all-to-all pairing) or :math:`x \leftarrow 1` on a spike (``"nearest"``:
    only the latest spike counts, nearest-spike pairing, Morrison et al. 2008)."""
    xd = x * a
    if mode == "all":
        return xd + s
    return torch.where(s > 0, torch.ones_like(xd), xd)


class _WeightDependence:
    """Mixin: additive or soft-bounded (multiplicative, Gütig et al. 2003) amplitudes."""

    weight_dependence: str
    mu: float
    wmin: float
    wmax: float

    def _check_dependence(self) -> None:
        check_in_choices("weight_dependence", self.weight_dependence, DEPENDENCES)
        _check_nonneg("mu", self.mu)
        check_bounds(self.wmin, self.wmax)
        if self.weight_dependence == "multiplicative" and not (abs(self.wmin) < float("inf") and abs(self.wmax) < float("inf")):
            raise ValueError("multiplicative (soft-bounded) STDP needs finite wmin and wmax: pass e.g. wmin=0.0, wmax=1.0")

    def _up(self, weight: torch.Tensor) -> torch.Tensor:
        up = (self.wmax - weight).clamp_min_(0)
        return up if self.mu == 1.0 else up.pow_(self.mu)

    def _down(self, weight: torch.Tensor) -> torch.Tensor:
        down = (weight - self.wmin).clamp_min_(0)
        return down if self.mu == 1.0 else down.pow_(self.mu)


class _SpikeTriggered(_WeightDependence):
    """Rules of the form ``dw = f+(w) * (a_ltp^T c_ltp) - f-(w) * (a_ltd^T c_ltd)`` where ``a_ltp``
    is non-zero only for post-synaptic spikes and ``c_ltd`` only for pre-synaptic spikes.

    Subclasses provide ``_terms(pre, post, state) -> (a_ltp, c_ltp, a_ltd, c_ltd, new_state)``.
    Because the potentiation touches only the rows of neurons that spiked and the depression only
    the columns of inputs that spiked, :meth:`accumulate_` updates just those (event-driven; on CPU
    when spikes are sparse), with the same result as the dense ``step``.
    """

    sparse_fraction: ClassVar[float] = 0.25  # use the sparse path below this fraction of touched weights

    def _terms(self, pre, post, state):  # pragma: no cover - abstract
        raise NotImplementedError

    def _terms_seq(self, pre, post, state):  # pragma: no cover - abstract
        raise NotImplementedError

    def _step(self, pre, post, weight, state, m):
        a1, c1, a2, c2, new = self._terms(pre, post, state)
        return self._combine(a1, c1, a2, c2, weight, m), new

    def _combine(self, a1, c1, a2, c2, weight, m):
        if self.weight_dependence == "additive":
            return self._outer_sum(((a1, c1, 1.0), (a2, c2, -1.0)), m)
        ltp = self._outer(a1, c1, m).mul_(self._up(weight))
        return ltp.sub_(self._outer(a2, c2, m).mul_(self._down(weight)))

    def _sequence(self, pre, post, weight, state, m):
        t_len, batch = pre.shape[:2]
        a1, c1, a2, c2, new = self._terms_seq(pre, post, state)
        flat = [x.reshape(t_len * batch, -1) for x in (a1, c1, a2, c2)]
        m_rows = self._time_rows(m, t_len)
        return self._merge_time(lambda r: r._combine(*flat, weight, m_rows), t_len, batch), new

    def accumulate_(self, target, pre, post, weight, state=None, *, alpha=1.0, modulator=None):
        if self.reduction == "none":
            raise ValueError("accumulate_ needs one dw per step: use reduction='mean' or 'sum'")
        with torch.no_grad():
            pre, post, weight, state, m = self._prepare(pre, post, weight, state, modulator)
            a1, c1, a2, c2, new = self._terms(pre, post, state)
            n_out, n_in = weight.shape
            rows = cols = None
            if target.device.type == "cpu" and target.shape == weight.shape:
                rows = (a1 != 0).any(0).nonzero().squeeze(1)
                cols = (c2 != 0).any(0).nonzero().squeeze(1)
                if rows.numel() * n_in + cols.numel() * n_out > self.sparse_fraction * n_out * n_in:
                    rows = cols = None
            if rows is None:
                if self.weight_dependence == "additive":
                    dw = self._outer_sum(((a1, c1, 1.0), (a2, c2, -1.0)), m, scale=alpha)
                else:
                    dw = self._step(pre, post, weight, state, m)[0].mul_(alpha)
                target.add_(dw)
                return new, None
            scale = alpha / pre.shape[0] if self.reduction == "mean" else alpha
            if m is not None:
                a1, a2 = a1 * m, a2 * m
            ltp = (a1[:, rows] * scale).T @ c1                 # [k_rows, n_in]
            ltd = (a2 * scale).T @ c2[:, cols]                 # [n_out, k_cols]
            if self.weight_dependence != "additive":           # read w before changing it
                ltp.mul_(self._up(weight[rows]))
                ltd.mul_(self._down(weight[:, cols]))
            target.index_add_(0, rows, ltp)
            target.index_add_(1, cols, ltd, alpha=-1.0)
        return new, (rows, cols)


class STDPState(NamedTuple):
    """Pair-STDP traces: ``x_pre`` ``[B, n_in]`` and ``x_post`` ``[B, n_out]``."""

    x_pre: torch.Tensor
    x_post: torch.Tensor


@register_rule("stdp")
@dataclasses.dataclass(frozen=True, kw_only=True)
class STDP(_SpikeTriggered, Rule):
    r"""Pair-based STDP with exponential traces (Song, Miller & Abbott 2000; Morrison et al. 2008).

    .. math::
        \Delta w_{ij} = A_+ f_+(w_{ij})\, s^{post}_i\, x^{pre}_j \;-\; A_- f_-(w_{ij})\, x^{post}_i\, s^{pre}_j

    with traces :math:`x^{pre} \leftarrow e^{-dt/\tau_+} x^{pre} + s^{pre}` and
    :math:`x^{post} \leftarrow e^{-dt/\tau_-} x^{post} + s^{post}` (``trace="all"``) or reset to 1
    on a spike (``trace="nearest"``). Weight dependence: ``"additive"``
    (:math:`f_\pm = 1`; pair it with hard bounds in :class:`~neuroplastic.plasticity.Plastic`) or
    ``"multiplicative"`` (soft bounds, :math:`f_+ = (w_{max} - w)^{\mu}`,
    :math:`f_- = (w - w_{min})^{\mu}`, Gütig et al. 2003; ``mu=1`` is the classic multiplicative
    rule of Rubin et al. 2001). See the module docstring for the same-step convention.

    Attributes:
        a_plus: potentiation amplitude :math:`A_+` (>= 0).
        a_minus: depression amplitude :math:`A_-` (>= 0).
        tau_plus: pre-trace (potentiation window) time constant in seconds.
        tau_minus: post-trace (depression window) time constant in seconds.
        trace: ``"all"`` (all-to-all) or ``"nearest"`` (nearest spike).
        weight_dependence: ``"additive"`` or ``"multiplicative"`` (soft bounds).
        mu: exponent of the soft bounds.
        wmin, wmax: soft bounds (used by ``"multiplicative"`` only).
        dt: step length in seconds.
    """

    a_plus: float = 0.005
    a_minus: float = 0.00525
    tau_plus: float = 20e-3
    tau_minus: float = 20e-3
    trace: str = "all"
    weight_dependence: str = "additive"
    mu: float = 1.0
    wmin: float = 0.0
    wmax: float = 1.0
    dt: float = 1e-3

    def validate(self) -> None:
        _check_nonneg("a_plus", self.a_plus)
        _check_nonneg("a_minus", self.a_minus)
        _check_time("tau_plus", self.tau_plus)
        _check_time("tau_minus", self.tau_minus)
        _check_time("dt", self.dt)
        check_in_choices("trace", self.trace, TRACES)
        self._check_dependence()

    def _init(self, pre, post, weight):
        return STDPState(torch.zeros_like(pre), torch.zeros_like(post))

    def _terms(self, pre, post, state):
        batch = pre.shape[0]
        self._check_state_batch("STDP x_pre", state.x_pre, batch)
        self._check_state_batch("STDP x_post", state.x_post, batch)
        x_pre = trace_step(state.x_pre, pre, decay(self.dt, self.tau_plus), self.trace)
        x_post_old = state.x_post * decay(self.dt, self.tau_minus)
        x_post = trace_step(state.x_post, post, decay(self.dt, self.tau_minus), self.trace)
        return self.a_plus * post, x_pre, self.a_minus * x_post_old, pre, STDPState(x_pre, x_post)

    def _terms_seq(self, pre, post, state):
        batch = pre.shape[1]
        self._check_state_batch("STDP x_pre", state.x_pre, batch)
        self._check_state_batch("STDP x_post", state.x_post, batch)
        ap, am = decay(self.dt, self.tau_plus), decay(self.dt, self.tau_minus)
        x_pre = trace_scan(state.x_pre, pre, ap, self.trace)
        x_post = trace_scan(state.x_post, post, am, self.trace)
        # a * x_post(t-1): for additive traces that is x_post(t) - post(t)
        x_post_old = x_post - post if self.trace == "all" else previous(state.x_post, x_post).mul_(am)
        return self.a_plus * post, x_pre, self.a_minus * x_post_old, pre, STDPState(x_pre[-1], x_post[-1])


class TripletState(NamedTuple):
    """Triplet-STDP traces: pre ``r1`` (tau_plus), ``r2`` (tau_x); post ``o1`` (tau_minus), ``o2`` (tau_y)."""

    r1: torch.Tensor
    r2: torch.Tensor
    o1: torch.Tensor
    o2: torch.Tensor


@register_rule("triplet_stdp")
@dataclasses.dataclass(frozen=True, kw_only=True)
class TripletSTDP(_SpikeTriggered, Rule):
    r"""Triplet STDP (Pfister & Gerstner 2006, J. Neurosci. 26:9673, eqs. 2-3).

    .. math::
        \text{post spike: } \Delta w_{ij} = r_{1,j}\,\big(A_2^+ + A_3^+\, o_{2,i}(t-\epsilon)\big), \qquad
        \text{pre spike: } \Delta w_{ij} = -o_{1,i}\,\big(A_2^- + A_3^-\, r_{2,j}(t-\epsilon)\big)

    with four exponential traces (pre: :math:`r_1` with :math:`\tau_+`, :math:`r_2` with
    :math:`\tau_x`; post: :math:`o_1` with :math:`\tau_-`, :math:`o_2` with :math:`\tau_y`), each
    incremented by 1 at its neuron's spikes *after* being read (the :math:`t - \epsilon`). The
    defaults are the paper's all-to-all fit to visual-cortex data (Sjöström et al. 2001; Table 4):
    :math:`A_2^+ = 5\cdot10^{-10}`, :math:`A_3^+ = 6.2\cdot10^{-3}`, :math:`A_2^- = 7\cdot10^{-3}`,
    :math:`A_3^- = 2.3\cdot10^{-4}`, :math:`\tau_+ = 16.8`, :math:`\tau_- = 33.7`,
    :math:`\tau_x = 101`, :math:`\tau_y = 125` ms. Same-step convention as :class:`STDP`.

    Attributes:
        a2_plus, a3_plus, a2_minus, a3_minus: pair and triplet amplitudes (>= 0).
        tau_plus, tau_minus, tau_x, tau_y: trace time constants in seconds.
        trace: ``"all"`` or ``"nearest"``.
        weight_dependence, mu, wmin, wmax: as in :class:`STDP`.
        dt: step length in seconds.
    """

    a2_plus: float = 5e-10
    a3_plus: float = 6.2e-3
    a2_minus: float = 7e-3
    a3_minus: float = 2.3e-4
    tau_plus: float = 16.8e-3
    tau_minus: float = 33.7e-3
    tau_x: float = 101e-3
    tau_y: float = 125e-3
    trace: str = "all"
    weight_dependence: str = "additive"
    mu: float = 1.0
    wmin: float = 0.0
    wmax: float = 1.0
    dt: float = 1e-3

    def validate(self) -> None:
        for name in ("a2_plus", "a3_plus", "a2_minus", "a3_minus"):
            _check_nonneg(name, getattr(self, name))
        for name in ("tau_plus", "tau_minus", "tau_x", "tau_y", "dt"):
            _check_time(name, getattr(self, name))
        check_in_choices("trace", self.trace, TRACES)
        self._check_dependence()

    def _init(self, pre, post, weight):
        return TripletState(torch.zeros_like(pre), torch.zeros_like(pre), torch.zeros_like(post), torch.zeros_like(post))

    def _terms(self, pre, post, state):
        batch = pre.shape[0]
        for name, t in zip(TripletState._fields, state):
            self._check_state_batch(f"TripletSTDP {name}", t, batch)
        a1, ax = decay(self.dt, self.tau_plus), decay(self.dt, self.tau_x)
        am, ay = decay(self.dt, self.tau_minus), decay(self.dt, self.tau_y)
        r1 = trace_step(state.r1, pre, a1, self.trace)           # includes this step's pre spikes
        r2_old, o1_old, o2_old = state.r2 * ax, state.o1 * am, state.o2 * ay
        new = TripletState(
            r1,
            trace_step(state.r2, pre, ax, self.trace),
            trace_step(state.o1, post, am, self.trace),
            trace_step(state.o2, post, ay, self.trace),
        )
        a_ltp = post * (self.a2_plus + self.a3_plus * o2_old)
        c_ltd = pre * (self.a2_minus + self.a3_minus * r2_old)
        return a_ltp, r1, o1_old, c_ltd, new

    def _terms_seq(self, pre, post, state):
        batch = pre.shape[1]
        for name, t in zip(TripletState._fields, state):
            self._check_state_batch(f"TripletSTDP {name}", t, batch)
        a1, ax = decay(self.dt, self.tau_plus), decay(self.dt, self.tau_x)
        am, ay = decay(self.dt, self.tau_minus), decay(self.dt, self.tau_y)
        r1 = trace_scan(state.r1, pre, a1, self.trace)
        r2 = trace_scan(state.r2, pre, ax, self.trace)
        o1 = trace_scan(state.o1, post, am, self.trace)
        o2 = trace_scan(state.o2, post, ay, self.trace)
        r2_old = previous(state.r2, r2).mul_(ax)
        o1_old = previous(state.o1, o1).mul_(am)
        o2_old = previous(state.o2, o2).mul_(ay)
        a_ltp = post * (self.a2_plus + self.a3_plus * o2_old)
        c_ltd = pre * (self.a2_minus + self.a3_minus * r2_old)
        return a_ltp, r1, o1_old, c_ltd, TripletState(r1[-1], r2[-1], o1[-1], o2[-1])
