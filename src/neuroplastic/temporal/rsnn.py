r"""Recurrent adaptive-LIF network (RSNN) trained by surrogate-gradient BPTT.

Each hidden layer ``l`` computes, for ``x[T, B, in]`` and its mask ``m[T, B]`` (True on real
steps; padded steps neither spike nor change the state):

.. math::
    I_t = W x_t + b + V S_{t-1}, \qquad (S_t, s_{t+1}) = \text{alif}(I_t, s_t)

with per-neuron learnable ``tau_mem``, ``tau_adapt`` and ``v_th`` (:class:`ALIFParameters`) and
recurrent :class:`~neuroplastic.synapses.Dense` synapses ``V``. ``W`` may carry per-synapse
delays (``delays="fixed"`` or ``"learnable"``). The readout is either a leaky-integrator
membrane :math:`u_t = \alpha_o u_{t-1} + (1 - \alpha_o)(W_o S_t + b_o)` averaged (``"li_mean"``)
or maxed (``"li_max"``) over the real steps, or a linear map of the spike counts per step
(``"count"``).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from neuroplastic._core.checks import check_in_choices, check_positive, check_time_first
from neuroplastic.neurons.alif import ALIFState
from neuroplastic.neurons.surrogate import SurrogateLike, as_surrogate
from neuroplastic.synapses.dense import Dense
from neuroplastic.temporal.alif import ALIFParameters, ALIFTensors, alif_tensor_step
from neuroplastic.temporal.delays import DelayedDense, LearnableDelayDense

__all__ = ["READOUTS", "RSNN", "RSNNOutput", "alif_recurrent_reference", "masked_mean"]

READOUTS = ("li_mean", "li_max", "count")


class RSNNOutput(NamedTuple):
    """Logits ``[B, K]``, the readout trace ``[T, B, K]`` and each hidden layer's spikes ``[T, B, H]``."""

    logits: torch.Tensor
    readout: torch.Tensor
    spikes: tuple[torch.Tensor, ...]


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the real steps: ``sum_t m_t x_t / sum_t m_t`` for ``x[T, B, ...]``."""
    m = mask.to(x.dtype).reshape(*mask.shape, *([1] * (x.ndim - 2)))
    return (x * m).sum(0) / m.sum(0).clamp_min(1.0)


def alif_recurrent_reference(i_ff: torch.Tensor, rec_weight: torch.Tensor | None, p: ALIFTensors,
                             mask: torch.Tensor | None, surrogate=None) -> torch.Tensor:
    """The reference loop of one recurrent ALIF layer: spikes ``[T, B, H]`` from the
    feed-forward current ``i_ff[T, B, H]`` (the fused kernels must match it)."""
    T, B, H = i_ff.shape
    z = i_ff.new_zeros(B, H)
    st = ALIFState(z, z, z)
    s = z
    outs = []
    for t in range(T):
        i = i_ff[t] if rec_weight is None else i_ff[t] + s @ rec_weight.t()
        s_new, new = alif_tensor_step(i, st, p, surrogate)
        if mask is not None:
            m = mask[t].unsqueeze(-1)
            s_new = s_new * m.to(s_new.dtype)
            new = ALIFState(torch.where(m, new.v, st.v), torch.where(m, new.a, st.a), st.ref)
        s, st = s_new, new
        outs.append(s)
    return torch.stack(outs)


class RSNN(nn.Module):
    """Recurrent adaptive-LIF classifier over time-first input.

    Args:
        in_features: input channels (spikes or currents).
        hidden: neurons per hidden layer (an int for one layer).
        out_features: classes.
        recurrent: recurrent synapses in every hidden layer.
        dt: time step in seconds (the frame hop of the front end).
        tau_mem: initial membrane time constant (s); a ``(low, high)`` pair draws log-uniformly.
        tau_adapt, beta, v_th: initial adaptation time constant, strength and threshold.
        learn_tau, learn_threshold: learn the per-neuron time constants / thresholds.
        readout: ``"li_mean"``, ``"li_max"`` or ``"count"``.
        tau_out: initial time constant of the LI readout (learned with ``learn_tau``).
        delays: ``None``, ``"fixed"`` or ``"learnable"`` synaptic delays on the input synapses
            of the first layer, up to ``max_delay`` steps.
        dropout: dropout on the spikes between layers while training.
        surrogate: spike surrogate (name, dict or :class:`~neuroplastic.neurons.Surrogate`).
        backend: ``"reference"`` (Python loop over the step function) or ``"fused"``
            (TorchScript forward and hand-written backward, same outputs and gradients).

    ``forward(x[T, B, in], mask[T, B] = None) -> logits[B, K]``; ``run`` returns
    :class:`RSNNOutput` with the traces and spikes.
    """

    def __init__(self, in_features: int, hidden: int | Sequence[int], out_features: int, *, recurrent: bool = True,
                 dt: float = 1e-2, tau_mem: float | tuple[float, float] = 20e-3, tau_adapt: float = 200e-3,
                 beta: float = 0.2, v_th: float = 1.0, learn_tau: bool = True, learn_threshold: bool = True,
                 readout: str = "li_mean", tau_out: float = 20e-3, delays: str | None = None, max_delay: int = 0,
                 dropout: float = 0.0, surrogate: SurrogateLike = None, backend: str = "reference") -> None:
        super().__init__()
        sizes = [int(hidden)] if isinstance(hidden, int) else [int(h) for h in hidden]
        if not sizes or min(sizes) < 1:
            raise ValueError(f"hidden must give at least one layer of >= 1 neurons, got {hidden!r}")
        self.readout_mode = check_in_choices("readout", readout, READOUTS)
        self.backend = check_in_choices("backend", backend, ("reference", "fused"))
        check_in_choices("delays", delays, (None, "fixed", "learnable"))
        self.dt = check_positive("dt", dt)
        self.surrogate = as_surrogate(surrogate)
        self.ff = nn.ModuleList()
        self.rec = nn.ModuleList()
        self.neurons = nn.ModuleList()
        n_in = in_features
        for li, h in enumerate(sizes):
            if li == 0 and delays == "fixed":
                self.ff.append(DelayedDense(n_in, h, max_delay))
            elif li == 0 and delays == "learnable":
                self.ff.append(LearnableDelayDense(n_in, h, max_delay))
            else:
                self.ff.append(Dense(n_in, h))
            if recurrent:
                r = Dense(h, h, bias=False)
                nn.init.orthogonal_(r.weight, gain=0.5)
                self.rec.append(r)
            self.neurons.append(ALIFParameters(h, tau_mem=tau_mem, tau_adapt=tau_adapt, v_th=v_th, beta=beta,
                                               learn_tau=learn_tau, learn_threshold=learn_threshold, dt=dt))
            n_in = h
        self.recurrent = bool(recurrent)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.out = Dense(n_in, out_features)
        self.log_tau_out = nn.Parameter(torch.tensor(math.log(check_positive("tau_out", tau_out))),
                                        requires_grad=learn_tau)

    @property
    def sizes(self) -> list[int]:
        return [p.log_tau_mem.numel() for p in self.neurons]

    def _layer(self, li: int, i_ff: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        p = self.neurons[li].tensors()
        w = self.rec[li].weight if self.recurrent else None
        if self.backend == "fused":
            from neuroplastic.temporal._fused import alif_recurrent_fused

            return alif_recurrent_fused(i_ff, w, p, mask, self.surrogate)
        return alif_recurrent_reference(i_ff, w, p, mask, self.surrogate)

    def run(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> RSNNOutput:
        check_time_first("input", x, min_ndim=3)
        if mask is not None and mask.shape != x.shape[:2]:
            raise ValueError(f"mask shape {tuple(mask.shape)} must be [T, B] = {tuple(x.shape[:2])}: "
                             "pass the mask pad_batch returned")
        if mask is not None:
            x = x * mask.unsqueeze(-1).to(x.dtype)
        spikes = []
        h = x
        for li in range(len(self.neurons)):
            s = self._layer(li, self.ff[li](h), mask)
            spikes.append(s)
            h = self.dropout(s)
        z = self.out(h)
        m = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device) if mask is None else mask
        if self.readout_mode == "count":
            return RSNNOutput(masked_mean(z, m), z, tuple(spikes))
        a = torch.exp(-self.dt / self.log_tau_out.exp())
        u = z.new_zeros(z.shape[1:])
        trace = []
        for t in range(z.shape[0]):
            u = a * u + (1.0 - a) * z[t]
            trace.append(u)
        u_all = torch.stack(trace)
        if self.readout_mode == "li_mean":
            logits = masked_mean(u_all, m)
        else:
            logits = u_all.masked_fill(~m.unsqueeze(-1), float("-inf")).amax(0)
        return RSNNOutput(logits, u_all, tuple(spikes))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.run(x, mask).logits
