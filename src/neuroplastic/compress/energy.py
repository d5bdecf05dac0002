r"""Operation and energy accounting per inference: synaptic operations, neuron updates, memory reads.

:func:`profile` runs a model once with forward hooks on every layer it knows and counts, per
sample:

* **ACs** (accumulates) of synaptic layers fed by *binary* input (all values 0 or 1, i.e.
  spikes). Only events cost: for a dense layer ``W[out, in]`` and spikes ``s``,

  .. math:: \mathrm{AC} = \sum_{t,b} \sum_j s_{t,b,j}\,\mathrm{fanout}_j,
            \qquad \mathrm{fanout}_j = \#\{i : W_{ij} \ne 0\}

  (``fanout = out`` for an unpruned layer). For a convolution each input spike reaches
  ``out_channels x kh x kw`` outputs, fewer at the borders; the exact count is
  ``conv2d(s, 1[W != 0]).sum()`` with the layer's own stride, padding, dilation and groups.
* **MACs** (multiply-accumulates) of synaptic layers fed by non-binary input: ``in x out`` per
  row and time step for a dense layer (``nnz(W)`` after pruning), ``conv2d(1, 1[W != 0]).sum()``
  for a convolution. A :class:`~neuroplastic.encoding.ConstantEncoder` (direct current coding)
  therefore makes the first layer pay MACs at *every* time step.
* **neuron updates**: one per neuron per time step for LIF / ALIF / LI / Izhikevich / recurrent
  LIF layers, one per unit for the activations of an MLP (ReLU, sigmoid, ...). Each update costs
  the arithmetic listed in :data:`NEURON_OPS` (e.g. LIF: one MAC for the leak
  :math:`v \leftarrow \beta v + I`, the input scale :math:`(1-\beta) R` being folded into the
  weights, and one add for the threshold comparison; one more add per spike for the reset).
* **memory reads** (32-bit words): one weight per synaptic operation (no weight reuse is assumed,
  for either kind of network), one read per input element of a MAC layer or per input spike
  (event) of an AC layer, one bias word per output per step, and every state variable of every
  neuron at every step. Writes are not counted separately.

Energy is :math:`E = n_{MAC} e_{MAC} + n_{add} e_{AC} + n_{read} e_{read}` with the costs of
:class:`EnergyModel`. Defaults are Horowitz's 45 nm figures (M. Horowitz, "Computing's energy
problem (and what we can do about it)", ISSCC 2014): 32-bit float multiply 3.7 pJ + add 0.9 pJ
= MAC 4.6 pJ, 32-bit float add 0.9 pJ; an 8 kB SRAM read of 64 bits costs 10 pJ, hence 5 pJ
per 32-bit word. Everything is settable.

Pooling, flatten, dropout and encoders are free in this model (an event sensor is assumed to
deliver the spikes). Layers with parameters that no counter knows raise an error instead of
being silently left out: register one with :func:`register_counter`.

Example:
    >>> import torch
    >>> from neuroplastic import Sequential, Dense, LIF
    >>> net = Sequential(Dense(4, 3, bias=False), LIF())
    >>> spikes = torch.zeros(2, 1, 4); spikes[0, 0, :2] = 1     # 2 input spikes, 1 sample
    >>> report = profile(net, spikes, time_first=True)
    >>> report.layers[0].acs                                      # 2 spikes x fan-out 3
    6.0
    >>> report.layers[1].neuron_updates                           # 3 neurons x 2 steps
    6.0
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch
from torch import nn

from neuroplastic.encoding import ConstantEncoder, LatencyEncoder, PopulationEncoder, RateEncoder
from neuroplastic.neurons._base import _NeuronBase
from neuroplastic.neurons.rate import Rate
from neuroplastic.synapses.recurrent import RecurrentLIF

__all__ = [
    "ACTIVATION_OPS", "NEURON_OPS", "EnergyModel", "LayerProfile", "ProfileReport", "profile",
    "register_counter",
]

#: Arithmetic per neuron update: ``(MACs, adds, state words)`` keyed by neuron model. LIF: leak
#: ``v <- beta v + I`` (1 MAC) and threshold compare (1 add); ALIF adds the adaptation trace
#: ``a <- rho a + s`` and the threshold ``v_th + beta a`` (2 MACs); LI is the leak only;
#: Izhikevich per Euler sub-step: ``0.04 v^2 + 5 v + 140 - u + x`` (3 MACs, 2 adds), ``a (b v - u)``
#: (2 MACs), two integrations (2 MACs) and the peak compare (1 add). A refractory period adds one
#: add (counter decrement) and one state word. The reset costs one add per spike. IF (no leak):
#: ``v <- v + I`` and the compare (2 adds).
NEURON_OPS: dict[str, tuple[float, float, int]] = {
    "LIF": (1.0, 1.0, 1),
    "IF": (0.0, 2.0, 1),
    "ALIF": (3.0, 1.0, 2),
    "LI": (1.0, 0.0, 1),
    "Izhikevich": (7.0, 3.0, 2),
}

#: Arithmetic per activation of a rate unit: ``(MACs, adds)``. ReLU-like units are one compare
#: (an add); smooth nonlinearities (sigmoid, tanh, GELU, ...) are *assumed* to cost 4 MACs
#: (a piecewise cubic approximation) plus one add; the identity is free.
ACTIVATION_OPS: dict[str, tuple[float, float]] = {
    "identity": (0.0, 0.0),
    "relu": (0.0, 1.0),
    "leaky_relu": (1.0, 1.0),
    "smooth": (4.0, 1.0),
}

_ACTIVATION_MODULES: dict[type, str] = {
    nn.Identity: "identity", nn.ReLU: "relu", nn.ReLU6: "relu", nn.Hardtanh: "relu",
    nn.LeakyReLU: "leaky_relu", nn.PReLU: "leaky_relu", nn.Sigmoid: "smooth", nn.Tanh: "smooth",
    nn.GELU: "smooth", nn.SiLU: "smooth", nn.ELU: "smooth", nn.Softplus: "smooth",
    nn.Mish: "smooth", nn.Hardsigmoid: "smooth", nn.Hardswish: "smooth",
}
_FREE_MODULES: tuple[type, ...] = (
    nn.Flatten, nn.Unflatten, nn.Dropout, nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d,
    nn.Softmax, nn.LogSoftmax,
)


@dataclass(frozen=True)
class EnergyModel:
    """Per-operation energy costs (picojoules) and counting conventions.

    Attributes:
        mac_pj: one 32-bit float multiply-accumulate (Horowitz 2014, 45 nm: 3.7 + 0.9 pJ).
        ac_pj: one 32-bit float add / accumulate (Horowitz 2014, 45 nm: 0.9 pJ).
        mem_read_pj: one 32-bit word read from on-chip SRAM (Horowitz 2014: 8 kB SRAM, 64-bit
            read 10 pJ -> 5 pJ per word; a DRAM read is ~640 pJ per word, set it if weights
            live off chip).
        count_zero_weights: if False (default) a weight that is exactly zero is an absent synapse
            and costs nothing (pruned networks on sparse hardware); if True every weight counts.
        skip_zero_activations: if True, MAC layers skip zero inputs (ReLU sparsity exploited by
            the hardware); default False (dense MACs, as on a GPU or CPU).
        neuron_ops: overrides of :data:`NEURON_OPS` entries.
        activation_ops: overrides of :data:`ACTIVATION_OPS` entries.
    """

    mac_pj: float = 4.6
    ac_pj: float = 0.9
    mem_read_pj: float = 5.0
    count_zero_weights: bool = False
    skip_zero_activations: bool = False
    neuron_ops: Mapping[str, tuple[float, float, int]] = field(default_factory=dict)
    activation_ops: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("mac_pj", "ac_pj", "mem_read_pj"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"{name} must be a finite number of picojoules >= 0, got {v!r}")
        object.__setattr__(self, "neuron_ops", {**NEURON_OPS, **dict(self.neuron_ops)})
        object.__setattr__(self, "activation_ops", {**ACTIVATION_OPS, **dict(self.activation_ops)})

    def to_dict(self) -> dict[str, Any]:
        """JSON-able settings."""
        d = dataclasses.asdict(self)
        d["neuron_ops"] = {k: list(v) for k, v in self.neuron_ops.items()}
        d["activation_ops"] = {k: list(v) for k, v in self.activation_ops.items()}
        return d


@dataclass
class LayerProfile:
    """Counts for one layer, per sample (after :func:`profile` divides by the batch size).

    ``macs``/``acs`` are synaptic operations; ``extra_macs``/``extra_adds`` are the arithmetic of
    bias additions, neuron updates and resets; ``energy_pj`` includes all of them and the reads.
    """

    name: str
    kind: str
    macs: float = 0.0
    acs: float = 0.0
    neuron_updates: float = 0.0
    spikes: float = 0.0
    mem_reads: float = 0.0
    extra_macs: float = 0.0
    extra_adds: float = 0.0
    energy_pj: float = 0.0

    _COUNTS = ("macs", "acs", "neuron_updates", "spikes", "mem_reads", "extra_macs", "extra_adds")

    @property
    def synaptic_ops(self) -> float:
        """MACs + ACs."""
        return self.macs + self.acs

    def price(self, em: EnergyModel) -> None:
        """Set ``energy_pj`` from the counts."""
        self.energy_pj = ((self.macs + self.extra_macs) * em.mac_pj + (self.acs + self.extra_adds) * em.ac_pj
                          + self.mem_reads * em.mem_read_pj)

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.name, "kind": self.kind, **{k: getattr(self, k) for k in self._COUNTS},
                "synaptic_ops": self.synaptic_ops, "energy_pj": self.energy_pj}


@dataclass
class ProfileReport:
    """Per-layer table and totals of one :func:`profile` run (all figures per sample)."""

    layers: list[LayerProfile]
    n_samples: int
    energy_model: EnergyModel

    @property
    def total(self) -> LayerProfile:
        """Sum over layers."""
        t = LayerProfile("total", "")
        for layer in self.layers:
            for k in LayerProfile._COUNTS + ("energy_pj",):
                setattr(t, k, getattr(t, k) + getattr(layer, k))
        return t

    @property
    def energy_pj(self) -> float:
        """Estimated energy per inference (pJ per sample)."""
        return self.total.energy_pj

    @property
    def synaptic_ops(self) -> float:
        """MACs + ACs per sample."""
        return self.total.synaptic_ops

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict: ``layers`` (list of rows), ``total``, ``n_samples``, ``energy_model``."""
        return {"layers": [lp.to_dict() for lp in self.layers], "total": self.total.to_dict(),
                "n_samples": self.n_samples, "energy_model": self.energy_model.to_dict()}

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def table(self) -> str:
        """Fixed-width text table (one row per layer and a total)."""
        head = f"{'layer':<22}{'kind':<12}{'MACs':>12}{'ACs':>12}{'updates':>10}{'spikes':>10}{'mem reads':>12}{'energy pJ':>13}"
        rows = [head, "-" * len(head)]
        for lp in [*self.layers, self.total]:
            if lp.name == "total":
                rows.append("-" * len(head))
            rows.append(f"{lp.name[:21]:<22}{lp.kind[:11]:<12}{lp.macs:>12.1f}{lp.acs:>12.1f}{lp.neuron_updates:>10.1f}"
                        f"{lp.spikes:>10.1f}{lp.mem_reads:>12.1f}{lp.energy_pj:>13.1f}")
        rows.append(f"per sample over {self.n_samples} samples; {self.energy_pj / 1e3:.3f} nJ per inference")
        return "\n".join(rows)

    def __str__(self) -> str:
        return self.table()


# --------------------------------------------------------------------------- counters

Counter = Callable[[nn.Module, torch.Tensor, Any, LayerProfile, EnergyModel], None]
_COUNTERS: list[tuple[type, str, bool, Counter]] = []


def register_counter(module_type: type, kind: str, *, descend: bool = False) -> Callable[[Counter], Counter]:
    """Register ``fn(module, input, output, layer_profile, energy_model)`` counting ``module_type``.

    The counter adds raw (whole-batch) counts to the ``LayerProfile`` each time the module runs.
    ``descend=True`` also profiles the module's children (e.g. a recurrent layer whose synapses
    are child ``nn.Linear`` modules and whose neurons the counter itself counts). Later
    registrations take precedence.
    """

    def deco(fn: Counter) -> Counter:
        _COUNTERS.insert(0, (module_type, kind, descend, fn))
        return fn

    return deco


def _is_binary(x: torch.Tensor) -> bool:
    return x.dtype == torch.bool or bool(((x == 0) | (x == 1)).all())


def _mask(w: torch.Tensor, em: EnergyModel) -> torch.Tensor:
    return torch.ones_like(w) if em.count_zero_weights else (w != 0).to(w.dtype)


def _count_dense(weight: torch.Tensor, bias: torch.Tensor | None, x: torch.Tensor, lp: LayerProfile, em: EnergyModel) -> None:
    """Dense synapses ``W[out, in]`` on input ``x[..., in]`` (see the module docstring)."""
    n_in, n_out = weight.shape[1], weight.shape[0]
    rows = x.detach().reshape(-1, n_in)
    fanout = _mask(weight.detach(), em).sum(0).double()        # [in]
    if _is_binary(rows):
        events = rows.double().sum(0)                          # spikes per input line
        lp.acs += float(events @ fanout)
        lp.mem_reads += float(events @ fanout) + float(events.sum())
    else:
        active = (rows != 0).double().sum(0) if em.skip_zero_activations else torch.full_like(fanout, rows.shape[0])
        lp.macs += float(active @ fanout)
        lp.mem_reads += float(active @ fanout) + float(active.sum())
    if bias is not None:
        lp.extra_adds += rows.shape[0] * n_out
        lp.mem_reads += rows.shape[0] * n_out


def _count_conv(conv: nn.Conv2d, x: torch.Tensor, out: torch.Tensor, lp: LayerProfile, em: EnergyModel) -> None:
    """Convolution: ``conv(events or ones, 1[W != 0]).sum()`` counts every op exactly (borders too)."""
    x = x.detach()
    frames = x.reshape(-1, *x.shape[-3:]).double()
    kernel = _mask(conv.weight.detach(), em).double()
    if _is_binary(frames):
        ops = float(conv._conv_forward(frames, kernel, None).sum())
        lp.acs += ops
        lp.mem_reads += ops + float(frames.sum())
    else:
        active = (frames != 0).double() if em.skip_zero_activations else torch.ones_like(frames)
        ops = float(conv._conv_forward(active, kernel, None).sum())
        lp.macs += ops
        lp.mem_reads += ops + float(active.sum())
    if conv.bias is not None:
        n_out = out.numel()
        lp.extra_adds += n_out
        lp.mem_reads += n_out


def _first(out: Any) -> torch.Tensor:
    return out[0] if isinstance(out, (tuple, list)) else out


def _count_neurons(key: str, n: int, spikes: float, lp: LayerProfile, em: EnergyModel, refractory: bool) -> None:
    macs, adds, words = em.neuron_ops[key]
    if refractory:
        adds, words = adds + 1, words + 1
    lp.neuron_updates += n
    lp.extra_macs += macs * n
    lp.extra_adds += adds * n + spikes           # one add per spike for the reset
    lp.mem_reads += words * n
    lp.spikes += spikes


@register_counter(nn.Linear, "dense")
def _linear(m: nn.Linear, x: torch.Tensor, out: Any, lp: LayerProfile, em: EnergyModel) -> None:
    _count_dense(m.weight, m.bias, x, lp, em)


@register_counter(nn.Conv2d, "conv")
def _conv(m: nn.Conv2d, x: torch.Tensor, out: Any, lp: LayerProfile, em: EnergyModel) -> None:
    _count_conv(m, x, _first(out), lp, em)


@register_counter(Rate, "rate")
def _rate(m: Rate, x: torch.Tensor, out: Any, lp: LayerProfile, em: EnergyModel) -> None:
    _count_dense(m.linear.weight, m.linear.bias, x, lp, em)
    act = m.activation if isinstance(m.activation, str) else "smooth"
    key = act if act in em.activation_ops else "smooth"
    macs, adds = em.activation_ops[key]
    n = _first(out).numel()
    lp.neuron_updates += n
    lp.extra_macs += macs * n
    lp.extra_adds += adds * n


@register_counter(_NeuronBase, "neuron")
def _neuron(m: _NeuronBase, x: torch.Tensor, out: Any, lp: LayerProfile, em: EnergyModel) -> None:
    key = type(m.params).__name__.removesuffix("Params")
    if key not in em.neuron_ops:
        raise ValueError(f"no operation count for neuron model {key!r}: pass EnergyModel(neuron_ops={{{key!r}: "
                         "(macs, adds, state_words)}})")
    spiking = key != "LI"
    s = _first(out)
    spikes = float((s.detach() != 0).sum()) if spiking else 0.0
    lp.kind = key
    _count_neurons(key, x.numel(), spikes, lp, em, getattr(m.params, "t_ref", 0.0) > 0)


@register_counter(RecurrentLIF, "recurrent", descend=True)
def _recurrent(m: RecurrentLIF, x: torch.Tensor, out: Any, lp: LayerProfile, em: EnergyModel) -> None:
    s = _first(out).detach()
    # the recurrent state carries the last spikes: one more word per neuron per step
    _count_neurons("LIF", s.numel(), float((s != 0).sum()), lp, em, m.params.t_ref > 0)
    lp.mem_reads += s.numel()


def _encoder(m: nn.Module, x: torch.Tensor, out: Any, lp: LayerProfile, em: EnergyModel) -> None:
    """Encoders are free (an event sensor is assumed); spike encoders report their spikes."""
    y = _first(out).detach()
    if _is_binary(y):
        lp.spikes += float((y != 0).sum())


for _cls in (ConstantEncoder, RateEncoder, LatencyEncoder, PopulationEncoder):
    register_counter(_cls, "encoder")(_encoder)


def _activation_counter(m: nn.Module, x: torch.Tensor, out: Any, lp: LayerProfile, em: EnergyModel) -> None:
    key = _ACTIVATION_MODULES[type(m)]
    macs, adds = em.activation_ops[key]
    n = _first(out).numel()
    lp.neuron_updates += n
    lp.extra_macs += macs * n
    lp.extra_adds += adds * n


for _cls in _ACTIVATION_MODULES:
    register_counter(_cls, "activation")(_activation_counter)


def _find_counter(m: nn.Module) -> tuple[str, bool, Counter] | None:
    for cls, kind, descend, fn in _COUNTERS:
        if isinstance(m, cls):
            return kind, descend, fn
    return None


def _unwrap(model: Any) -> nn.Module:
    if isinstance(model, nn.Module):
        return model
    for attr in ("module", "model_"):
        inner = getattr(model, attr, None)
        if inner is not None:
            return _unwrap(inner)
    raise TypeError(f"profile needs an nn.Module or a neuroplastic Model/estimator, got {type(model).__name__}")


def _plan(root: nn.Module) -> list[tuple[str, nn.Module, str, Counter]]:
    """Modules to hook, in registration order; unknown leaves with parameters are an error."""
    plan: list[tuple[str, nn.Module, str, Counter]] = []
    unknown: list[str] = []

    def visit(name: str, m: nn.Module) -> None:
        found = _find_counter(m)
        if found is not None:
            kind, descend, fn = found
            plan.append((f"{name}:{type(m).__name__}" if name else type(m).__name__, m, kind, fn))
            if not descend:
                return
        children = list(m.named_children())
        if not children:
            if found is None and any(True for _ in m.parameters(recurse=False)) and not isinstance(m, _FREE_MODULES):
                unknown.append(f"{name or 'model'} ({type(m).__name__})")
            return
        for child_name, child in children:
            visit(f"{name}.{child_name}" if name else child_name, child)

    visit("", root)
    if unknown:
        raise ValueError(f"profile cannot count layers {unknown}: register a counter with "
                         "@neuroplastic.compress.register_counter(LayerType, kind)")
    return plan


def profile(model: Any, x: torch.Tensor, *, energy_model: EnergyModel | None = None,
            time_first: bool = False) -> ProfileReport:
    """Count operations and estimate energy of one inference per sample of ``x``.

    Args:
        model: a neuroplastic ``Sequential`` (encoders, ``Dense``/``Conv2d``, LIF/ALIF/LI/Rate
            ...), a plain ``nn.Sequential`` MLP, any module built of known layers, or a
            neuroplastic ``Model`` / scikit-learn estimator (its module is profiled).
        x: the input batch the model takes: ``[B, ...]`` samples (models that start with an
            encoder, MLPs) or, with ``time_first=True``, ``[T, B, ...]`` (already spikes/currents).
        energy_model: costs and conventions; default :class:`EnergyModel()`.
        time_first: whether the batch dimension of ``x`` is the second one.

    Returns:
        A :class:`ProfileReport` with per-layer counts and energy per sample.
    """
    em = EnergyModel() if energy_model is None else energy_model
    module = _unwrap(model)
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(x, dtype=torch.float32)
    if x.ndim < (3 if time_first else 2):
        raise ValueError(f"x has shape {tuple(x.shape)}: pass a batch [B, ...]"
                         + (" with a time axis first, [T, B, ...]" if time_first else " (x.unsqueeze(0) for one sample)"))
    n = int(x.shape[1] if time_first else x.shape[0])
    p = next(module.parameters(), None)
    if p is not None:
        x = x.to(device=p.device, dtype=p.dtype if x.is_floating_point() else x.dtype)
    plan = _plan(module)
    profiles: list[LayerProfile] = []
    handles = []
    for name, m, kind, fn in plan:
        lp = LayerProfile(name, kind)
        profiles.append(lp)

        def hook(mod: nn.Module, args: tuple, out: Any, lp: LayerProfile = lp, fn: Counter = fn) -> None:
            if args:
                fn(mod, args[0], out, lp, em)

        handles.append(m.register_forward_hook(hook))
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            module(x)
    finally:
        for h in handles:
            h.remove()
        module.train(was_training)
    for lp in profiles:
        for k in LayerProfile._COUNTS:
            setattr(lp, k, getattr(lp, k) / n)
        lp.price(em)
    return ProfileReport(profiles, n, em)
