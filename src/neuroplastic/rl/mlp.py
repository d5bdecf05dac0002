"""Backprop baseline: an MLP actor-critic (separate tanh actor and critic networks), trained
episodically by :class:`~neuroplastic.rl._gradient.GradientAgent`."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from neuroplastic.io import register_serializable
from neuroplastic.rl._gradient import GradientAgent


class MLPActorCritic(nn.Module):
    """``x[N, d] -> (logits[N, A], value[N])`` with two ``d -> hidden -> out`` tanh MLPs."""

    def __init__(self, n_in: int, n_actions: int, hidden: int = 64) -> None:
        super().__init__()
        self.actor = nn.Sequential(nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, n_actions))
        self.critic = nn.Sequential(nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.actor(x), self.critic(x)[:, 0]


@register_serializable("neuroplastic.rl.MLPAgent")
class MLPAgent(GradientAgent):
    """MLP actor-critic (backprop baseline). Settings: ``hidden`` plus those of :class:`GradientAgent`."""

    name = "mlp"

    def __init__(self, low, high, n_actions: int, *, hidden: int = 64, lr: float = 1e-2, **kw: Any) -> None:
        self.hidden = int(hidden)
        super().__init__(low, high, n_actions, lr=lr, **kw)

    def _build(self) -> nn.Module:
        return MLPActorCritic(len(self.low), self.n_actions, self.hidden)

    def _settings(self) -> dict[str, Any]:
        return {"hidden": self.hidden}
