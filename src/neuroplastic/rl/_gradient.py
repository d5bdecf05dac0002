r"""Episodic advantage actor-critic trained by backprop, shared by the MLP and the spiking agents.

The network maps a batch of normalised observations ``[N, d]`` to action logits ``[N, A]`` and
values ``[N]``. Actions are sampled from the softmax while the episode runs (no gradient); at the
end of the episode one optimiser step minimises

.. math::
    L = -\frac{1}{T}\sum_t \log\pi(a_t|s_t)\,\hat A_t
        + \frac{c_v}{T}\sum_t \big(V(s_t) - G_t\big)^2 - \frac{c_H}{T}\sum_t H(\pi(\cdot|s_t)),

with discounted returns :math:`G_t = r_{t+1} + \gamma G_{t+1}` (:math:`G_T = V(s_T)` when the
episode was truncated by a time limit, 0 when it terminated), advantages
:math:`\hat A_t = G_t - V(s_t)` standardised over the episode, and returns divided by
``return_scale`` for the critic (so that its targets are of order 1).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from neuroplastic.rl._gym import box_space, n_actions as _n_actions
from neuroplastic.rl.tiles import tile_coding_for


def obs_bounds(env: Any, bounds=None) -> tuple[list[float], list[float]]:
    """Finite ``(low, high)`` of ``env``'s observations (same sources as the tile coder)."""
    box_space(env)
    c = tile_coding_for(env, n_tilings=1, bins=1, bounds=bounds)
    return list(c.low), list(c.high)


def discounted_returns(rewards: list[float], gamma: float, tail: float = 0.0) -> np.ndarray:
    """:math:`G_t = r_{t+1} + \\gamma G_{t+1}` with :math:`G_T` = ``tail`` (the bootstrap value, 0 at a terminal state)."""
    g, out = float(tail), np.empty(len(rewards))
    for t in range(len(rewards) - 1, -1, -1):
        g = float(rewards[t]) + gamma * g
        out[t] = g
    return out


class GradientAgent:
    """Base of the backprop-trained agents: holds ``self.net`` and an Adam optimiser.

    Subclasses set ``self.net`` (``forward(x[N, d]) -> (logits[N, A], value[N])``) in
    ``_build()`` and list their constructor settings in ``_settings()``.
    """

    name = "gradient"

    def __init__(self, low, high, n_actions: int, *, lr: float = 3e-3, gamma: float = 0.99,
                 value_coef: float = 0.5, entropy_coef: float = 0.01, return_scale: float | None = None,
                 seed: int = 0) -> None:
        self.low = [float(v) for v in low]
        self.high = [float(v) for v in high]
        if len(self.low) != len(self.high) or not all(math.isfinite(a) and math.isfinite(b) and b > a
                                                      for a, b in zip(self.low, self.high)):
            raise ValueError("low and high must be finite with high > low in every dimension: pass bounds=(low, high)")
        self.n_actions = int(n_actions)
        if self.n_actions < 2:
            raise ValueError(f"n_actions must be >= 2, got {n_actions}")
        self.lr, self.gamma = float(lr), float(gamma)
        self.value_coef, self.entropy_coef = float(value_coef), float(entropy_coef)
        self.return_scale = float(return_scale) if return_scale is not None else 1.0 / (1.0 - self.gamma)
        self._centre = torch.tensor([(a + b) / 2 for a, b in zip(self.low, self.high)])
        self._half = torch.tensor([(b - a) / 2 for a, b in zip(self.low, self.high)])
        self.episode = 0
        torch.manual_seed(int(seed))   # initial weights
        self.net: nn.Module = self._build()
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=self.lr)
        self.seed(seed)
        self._buf: dict[str, list] = {}

    @classmethod
    def for_env(cls, env: Any, *, bounds=None, seed: int = 0, **settings: Any) -> "GradientAgent":
        low, high = obs_bounds(env, bounds)
        return cls(low, high, _n_actions(env), seed=seed, **settings)

    def _build(self) -> nn.Module:  # pragma: no cover - abstract
        raise NotImplementedError

    def _settings(self) -> dict[str, Any]:
        return {}

    def seed(self, seed: int) -> None:
        self.generator = torch.Generator().manual_seed(int(seed))

    def normalise(self, obs: Any) -> torch.Tensor:
        """Observations mapped so that the bounds go to -1 and 1 (then clipped to [-3, 3])."""
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32))
        if x.shape[-1] != len(self.low):
            raise ValueError(f"observation has {x.shape[-1]} values but the agent was built for {len(self.low)}: "
                             "build it from this environment")
        return ((x - self._centre) / self._half).clamp(-3.0, 3.0)

    # ------------------------------------------------------------------ loop interface
    def begin_episode(self) -> None:
        self._buf = {"obs": [], "actions": [], "rewards": []}
        self._final: tuple[Any, bool] | None = None

    def act(self, obs: Any, greedy: bool = False) -> int:
        with torch.no_grad():
            logits, _ = self.net(self.normalise(obs)[None])
        if greedy:
            a = int(torch.argmax(logits[0]))
        else:
            a = int(torch.multinomial(torch.softmax(logits[0], 0), 1, generator=self.generator))
        if self._buf:
            self._buf["obs"].append(np.asarray(obs, dtype=np.float32))
            self._buf["actions"].append(a)
        return a

    def observe(self, reward: float, next_obs: Any, terminated: bool, truncated: bool) -> None:
        if not self._buf or len(self._buf["rewards"]) >= len(self._buf["actions"]):
            raise RuntimeError("observe() follows act(): call begin_episode() and agent.act(obs) first")
        self._buf["rewards"].append(float(reward))
        if terminated or truncated:
            self._final = (np.asarray(next_obs, dtype=np.float32), bool(terminated))

    def end_episode(self) -> None:
        self.episode += 1
        buf = self._buf
        if not buf or not buf["rewards"]:
            return
        n = len(buf["rewards"])
        obs = self.normalise(np.stack(buf["obs"][:n]))
        actions = torch.tensor(buf["actions"][:n])
        tail = 0.0
        if self._final is not None and not self._final[1]:       # truncated: bootstrap from V(s_T)
            with torch.no_grad():
                tail = float(self.net(self.normalise(self._final[0])[None])[1][0]) * self.return_scale
        returns = discounted_returns(buf["rewards"], self.gamma, tail)
        target = torch.as_tensor(returns, dtype=torch.float32) / self.return_scale
        logits, values = self.net(obs)
        logp = torch.log_softmax(logits, 1)
        adv = (target - values).detach() * self.return_scale      # in return units
        if n > 1:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        entropy = -(logp.exp() * logp).sum(1).mean()
        loss = (-(logp.gather(1, actions[:, None])[:, 0] * adv).mean()
                + self.value_coef * (values - target).pow(2).mean() - self.entropy_coef * entropy)
        self.optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
        self.optimizer.step()
        self._buf = {}

    # ------------------------------------------------------------------ checkpoints
    def get_config(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "n_actions": self.n_actions, "lr": self.lr, "gamma": self.gamma,
                "value_coef": self.value_coef, "entropy_coef": self.entropy_coef, "return_scale": self.return_scale,
                "episode": self.episode, **self._settings()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "GradientAgent":
        cfg = dict(config)
        episode = int(cfg.pop("episode", 0))
        agent = cls(cfg.pop("low"), cfg.pop("high"), cfg.pop("n_actions"), **cfg)
        agent.episode = episode
        return agent

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(self.net.state_dict())

    def load_state_dict(self, state: dict[str, torch.Tensor], strict: bool = True) -> None:
        self.net.load_state_dict(state, strict=strict)
