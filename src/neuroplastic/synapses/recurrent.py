r"""An explicit recurrent spiking layer: feed-forward and recurrent synapses into LIF neurons.

.. math::
    I_t = W x_t + b + V S_{t-1}, \qquad (S_t, \text{lif}_{t+1}) = \text{lif\_step}(I_t, \text{lif}_t)

The feed-forward term is computed for all ``T`` steps in one matrix product; only the recurrent
term runs step by step.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn

from neuroplastic._core.checks import check_batch, check_finite, check_positive, check_time_first
from neuroplastic.neurons.lif import LIFParams, LIFState, lif_init, lif_step


class RecurrentState(NamedTuple):
    """State of :class:`RecurrentLIF`: the neurons' state and the last step's spikes."""

    neuron: LIFState
    spikes: torch.Tensor


class RecurrentLIF(nn.Module):
    """Recurrently connected LIF population.

    Args:
        in_features: input size.
        out_features: number of neurons.
        bias: learn a bias on the feed-forward current.
        dt: time step in seconds.
        **lif: :class:`~neuroplastic.neurons.lif.LIFParams` fields.

    ``forward(x[T, B, in], state=None) -> (spikes[T, B, out], RecurrentState)``.
    """

    stateful = True

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True, dt: float = 1e-3, **lif: Any) -> None:
        super().__init__()
        self.ff = nn.Linear(in_features, out_features, bias=bias)
        self.rec = nn.Linear(out_features, out_features, bias=False)
        nn.init.orthogonal_(self.rec.weight, gain=0.5)
        self.params = LIFParams(**lif)
        self.dt = check_positive("dt", dt)

    def init_state(self, x_step: torch.Tensor) -> RecurrentState:
        """Resting state for one input step ``[B, in]``."""
        z = x_step.new_zeros(x_step.shape[0], self.rec.in_features)
        return RecurrentState(lif_init(z, self.params), z)

    def forward(self, x: torch.Tensor, state: RecurrentState | None = None) -> tuple[torch.Tensor, RecurrentState]:
        check_time_first("input", x, min_ndim=3)
        check_finite("input", x)
        if state is None:
            state = self.init_state(x[0])
        else:
            check_batch("state", state.spikes.shape[0], x.shape[1])
        i_ff = self.ff(x)
        neuron, s = state
        outs = []
        for t in range(x.shape[0]):
            s, neuron = lif_step(i_ff[t] + self.rec(s), neuron, self.params, self.dt)
            outs.append(s)
        return torch.stack(outs), RecurrentState(neuron, s)
