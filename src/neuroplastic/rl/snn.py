r"""Surrogate-gradient spiking actor-critic: population-coded observations drive a layer of LIF
neurons for ``n_steps`` time steps; linear readouts of the spike rates give the action logits
and the value. Trained episodically by backprop through time with the LIF's surrogate gradient
(:class:`~neuroplastic.rl._gradient.GradientAgent`).

Per decision: ``x`` (normalised to [-1, 1]) -> Gaussian receptive fields
(:func:`~neuroplastic.encoding.population.population_encode`, ``n_receptors`` per dimension) ->
constant current ``I = W_in r + b`` for ``n_steps`` steps of :func:`~neuroplastic.neurons.lif.lif_step`
(time-first ``[T, N, hidden]`` spikes) -> rates ``mean_t s_t`` -> ``Dense`` heads.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from neuroplastic.encoding.population import population_encode
from neuroplastic.io import register_serializable
from neuroplastic.neurons.lif import LIFParams, lif_init, lif_step
from neuroplastic.rl._gradient import GradientAgent
from neuroplastic.synapses.dense import Dense


class SpikingActorCritic(nn.Module):
    """``x[N, d] -> (logits[N, A], value[N])`` through one LIF layer run for ``n_steps`` steps.

    ``forward(x, return_spikes=True)`` also returns the spikes ``[T, N, hidden]``.
    """

    def __init__(self, n_in: int, n_actions: int, hidden: int = 64, n_receptors: int = 8, n_steps: int = 8,
                 tau_mem: float = 5e-3, dt: float = 1e-3) -> None:
        super().__init__()
        self.n_receptors, self.n_steps, self.dt = int(n_receptors), int(n_steps), float(dt)
        if self.n_steps < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps}")
        self.params = LIFParams(tau_mem=tau_mem, v_th=1.0, reset="subtract")
        self.inp = Dense(n_in * self.n_receptors, hidden)
        with torch.no_grad():   # currents of order v_th, so that the layer fires from the start
            self.inp.weight.normal_(0.0, 2.0 / (n_in * self.n_receptors) ** 0.5 * 2.0)
            self.inp.bias.uniform_(0.0, 1.0)
        self.policy = Dense(hidden, n_actions)
        self.value = Dense(hidden, 1)

    def forward(self, x: torch.Tensor, return_spikes: bool = False):
        r = population_encode(x, self.n_receptors, -1.0, 1.0)
        current = self.inp(r)
        state = lif_init(current, self.params)
        spikes = []
        for _ in range(self.n_steps):
            s, state = lif_step(current, state, self.params, self.dt)
            spikes.append(s)
        s_all = torch.stack(spikes)                 # [T, N, hidden]
        rate = s_all.mean(0)
        out = (self.policy(rate), self.value(rate)[:, 0])
        return (*out, s_all) if return_spikes else out


@register_serializable("neuroplastic.rl.SpikingAgent")
class SpikingAgent(GradientAgent):
    """Spiking actor-critic trained by surrogate gradients. Settings: ``hidden``, ``n_receptors``,
    ``n_steps``, ``tau_mem``, ``dt`` plus those of :class:`GradientAgent`."""

    name = "snn-gradient"

    def __init__(self, low, high, n_actions: int, *, hidden: int = 64, n_receptors: int = 8, n_steps: int = 8,
                 tau_mem: float = 5e-3, dt: float = 1e-3, lr: float = 1e-2, **kw: Any) -> None:
        self.arch = {"hidden": int(hidden), "n_receptors": int(n_receptors), "n_steps": int(n_steps),
                     "tau_mem": float(tau_mem), "dt": float(dt)}
        super().__init__(low, high, n_actions, lr=lr, **kw)

    def _build(self) -> nn.Module:
        return SpikingActorCritic(len(self.low), self.n_actions, **self.arch)

    def _settings(self) -> dict[str, Any]:
        return dict(self.arch)
