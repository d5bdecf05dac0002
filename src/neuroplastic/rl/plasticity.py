r"""Actor-critic learned by three-factor plasticity over a binary population (Frémaux, Sprekeler
& Gerstner 2013, "Reinforcement learning using a continuous time actor-critic framework with
spiking neurons", PLoS Comput Biol 9: e1003024).

The observation is a binary population (tile coding, :mod:`neuroplastic.rl.tiles`): ``phi`` has
``n_tilings`` active neurons. A critic neuron reads :math:`V(s) = w \cdot \phi(s)`; ``n_actions``
actor neurons read preferences :math:`h = \Theta \phi(s)` and the action is drawn from
:math:`\pi = \mathrm{softmax}(h)`. Every synapse keeps an accumulating eligibility trace of its
local Hebbian term and changes only when the third factor, the TD error, arrives:

.. math::
    \delta_t = r_{t+1} + \gamma V(s_{t+1}) - V(s_t) \qquad (V(s_{t+1}) = 0 \text{ on termination})

    e^w_t = \gamma\lambda\, e^w_{t-1} + \phi(s_t), \qquad
    E^\Theta_t = \gamma\lambda\, E^\Theta_{t-1} + (\mathbf{1}_{a_t} - \pi_t)\, \phi(s_t)^\top

    w \leftarrow w + \alpha_c\, \delta_t\, e^w_t, \qquad
    \Theta \leftarrow \Theta + \alpha_a\, \delta_t\, E^\Theta_t

A truncated episode (time limit) bootstraps from :math:`V(s_{t+1})`; a terminated one does not.
Traces are reset at the end of every episode. The post-synaptic factor of the actor,
:math:`\mathbf{1}_{a} - \pi`, is the chosen neuron's spike minus its expected rate (the
"spike minus rate" term of Frémaux et al.); for a softmax policy it is the gradient of
:math:`\log \pi(a)`, so the rule is actor-critic policy gradient with TD(:math:`\lambda`) traces.
The rates decay with the episode count, :math:`\alpha / (1 + k / k_0)` (``lr_decay`` =
:math:`k_0` = 300 episodes by default): a constant rate keeps perturbing a policy that is already
good, and the 100-episode solved criterion of CartPole punishes every relapse. ``normalise=True``
divides the rates by ``n_tilings`` (the active population) instead of the defaults' raw rates.

Why a dedicated step instead of :class:`~neuroplastic.plasticity.RSTDP`: the trace has the same
form as RSTDP's (:math:`c \leftarrow a\,c + S`, :math:`\Delta w = \eta\,m\,c`; here
:math:`a = \gamma\lambda` per environment step, i.e. ``tau_e = -dt / ln(gamma * lambda)``) and
is computed with the library's :func:`~neuroplastic.plasticity.stdp.trace_step` form, but
RSTDP's :math:`S` is an STDP spike-pair term and its modulator is given per step of a
``[B, n_out, n_in]`` trace, whereas the actor needs the policy-gradient term
:math:`(\mathbf{1}_a - \pi)\phi^\top`, the critic the plain presynaptic activity, the traces must
end with each episode, and the update touches only the ``n_tilings`` active columns of the
Hebbian term (a sparse scatter into the dense trace, tested equal to ``trace_step``).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import torch

from neuroplastic.io import register_serializable
from neuroplastic.rl._gym import n_actions as _n_actions
from neuroplastic.rl.tiles import TileCoding, TileTables, tile_coding_for, tile_encode

DTYPE = torch.float64


@dataclasses.dataclass(frozen=True)
class PlasticityParams:
    """Settings of the three-factor actor-critic.

    Attributes:
        gamma: discount factor.
        lam: trace decay :math:`\\lambda` (traces decay by ``gamma * lam`` per step).
        actor_lr, critic_lr: learning rates :math:`\\alpha_a`, :math:`\\alpha_c`.
        normalise: divide the rates by the number of active neurons (``n_tilings``).
        lr_decay: rates are multiplied by ``1 / (1 + episode / lr_decay)`` (0: constant).
    """

    gamma: float = 0.99
    lam: float = 0.8
    actor_lr: float = 0.02
    critic_lr: float = 0.05
    normalise: bool = False
    lr_decay: float = 300.0

    def __post_init__(self) -> None:
        for name in ("gamma", "lam"):
            v = float(getattr(self, name))
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {v}")
        for name in ("actor_lr", "critic_lr", "lr_decay"):
            v = float(getattr(self, name))
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {v}")


class ACState(NamedTuple):
    """Synapses and eligibility traces, ``[1 + n_actions, n_features]`` each: row 0 is the critic
    (:math:`w`, :math:`e^w`), rows ``1..n_actions`` the actor (:math:`\\Theta`, :math:`E^\\Theta`).
    One matrix for both makes a step a handful of tensor operations."""

    weights: torch.Tensor
    traces: torch.Tensor

    @property
    def w(self) -> torch.Tensor:
        """Critic synapses ``[n_features]``."""
        return self.weights[0]

    @property
    def theta(self) -> torch.Tensor:
        """Actor synapses ``[n_actions, n_features]``."""
        return self.weights[1:]


def ac_init(n_features: int, n_actions: int) -> ACState:
    """Zero synapses (uniform policy, zero value) and empty traces."""
    z = torch.zeros(1 + int(n_actions), int(n_features), dtype=DTYPE)
    return ACState(z, z.clone())


def encode(obs: Any, tables: TileTables) -> torch.Tensor:
    """Indices of the active neurons of the population for one observation (see :func:`tile_encode`)."""
    return tile_encode(obs, tables)


def policy(idx: torch.Tensor, state: ACState) -> torch.Tensor:
    """Action probabilities :math:`\\mathrm{softmax}(\\Theta\\phi)` ``[n_actions]``."""
    return torch.softmax(state.weights[1:, idx].sum(1), 0)


def act(idx: torch.Tensor, state: ACState, u: float | None) -> tuple[int, list[float]]:
    """Choose an action: inverse-CDF sample with the uniform number ``u`` in ``[0, 1)``, or the
    most preferred action if ``u is None`` (greedy; ties go to the lowest index).
    Returns ``(action, pi)`` with ``pi`` the probabilities as a list."""
    pi = policy(idx, state).tolist()
    if u is None:
        return max(range(len(pi)), key=pi.__getitem__), pi
    c = 0.0
    for a, p in enumerate(pi):
        c += p
        if u < c:
            return a, pi
    return len(pi) - 1, pi


def value(idx: torch.Tensor, state: ACState) -> float:
    """Critic output :math:`V(s) = w \\cdot \\phi(s)`."""
    return float(state.weights[0, idx].sum())


def td_error(state: ACState, idx: torch.Tensor, reward: float, idx_next: torch.Tensor, terminated: bool,
             gamma: float) -> float:
    """:math:`\\delta = r + \\gamma V(s') - V(s)` (no bootstrap when ``terminated``)."""
    v_next = 0.0 if terminated else value(idx_next, state)
    return float(reward) + gamma * v_next - value(idx, state)


def hebbian_term(idx: torch.Tensor, action: int, pi: Any) -> torch.Tensor:
    """Post-synaptic factors ``[1 + n_actions]`` of the active synapses: 1 for the critic,
    :math:`\\mathbf{1}_a - \\pi` for the actor (the presynaptic factor is 1 on ``idx``, 0 elsewhere)."""
    post = [1.0] + [-float(p) for p in pi]
    post[1 + int(action)] += 1.0
    return torch.tensor(post, dtype=DTYPE)


def learn(state: ACState, params: PlasticityParams, idx: torch.Tensor, action: int, pi: Any,
          reward: float, idx_next: torch.Tensor, terminated: bool, truncated: bool,
          lr_scale: float = 1.0, delta: float | None = None) -> tuple[ACState, float]:
    """One three-factor step (module docstring). Returns ``(new_state, delta)``; inputs are not mutated.

    Args:
        state: synapses and traces before the step.
        idx, idx_next: active neurons at :math:`s_t` and :math:`s_{t+1}`.
        action, pi: the action taken at :math:`s_t` and the policy it was drawn from.
        reward: :math:`r_{t+1}`.
        terminated: the episode ended in a terminal state (no bootstrap); ``truncated``: it was
            cut by a time limit (bootstrap). Either resets the traces after the update.
        lr_scale: multiplies both rates (the learning-rate schedule).
        delta: override the third factor (default: the TD error), e.g. to study its sign.
    """
    if delta is None:
        delta = td_error(state, idx, reward, idx_next, terminated, params.gamma)
    delta = float(delta)
    gl = params.gamma * params.lam
    post = hebbian_term(idx, action, pi)
    # e <- gl * e + S  (trace_step's "all" form), with S = post x phi scattered into the active columns
    traces = (state.traces * gl).index_add_(1, idx, post[:, None].expand(-1, idx.shape[0]))
    scale = lr_scale / idx.shape[0] if params.normalise else lr_scale
    rates = torch.full((post.shape[0], 1), params.actor_lr * scale * delta, dtype=DTYPE)
    rates[0, 0] = params.critic_lr * scale * delta
    weights = torch.addcmul(state.weights, rates, traces)          # W + lr * delta * e
    if terminated or truncated:
        traces = torch.zeros_like(traces)
    return ACState(weights, traces), delta


@register_serializable("neuroplastic.rl.PlasticityAgent")
class PlasticityAgent:
    """Thin holder of :class:`ACState` for the environment loop (:func:`neuroplastic.rl.train`).

    Args:
        coding: the tile coder of the observations (:func:`~neuroplastic.rl.tiles.tile_coding_for`).
        n_actions: number of discrete actions.
        params: :class:`PlasticityParams` (or a dict of its fields).
        seed: seed of the action sampling.

    Use :meth:`for_env` to build one from an environment.
    """

    name = "plasticity"

    def __init__(self, coding: TileCoding, n_actions: int, params: PlasticityParams | dict | None = None,
                 seed: int = 0) -> None:
        self.coding = coding if isinstance(coding, TileCoding) else TileCoding(**coding)
        self.n_actions = int(n_actions)
        if self.n_actions < 2:
            raise ValueError(f"n_actions must be >= 2, got {n_actions}")
        self.params = params if isinstance(params, PlasticityParams) else PlasticityParams(**(params or {}))
        self.tables = TileTables(self.coding)
        self.state = ac_init(self.coding.n_features, self.n_actions)
        self.episode = 0
        self.seed(seed)
        self._cache: tuple[Any, torch.Tensor] | None = None
        self._last: tuple[torch.Tensor, int, list[float]] | None = None

    @classmethod
    def for_env(cls, env: Any, *, n_tilings: int = 16, bins: int | None = None, bounds=None,
                seed: int = 0, **params: Any) -> "PlasticityAgent":
        """Population sized from ``env.observation_space`` (bounds per :func:`tile_coding_for`)."""
        coding = tile_coding_for(env, n_tilings=n_tilings, bins=bins, bounds=bounds)
        return cls(coding, _n_actions(env), PlasticityParams(**params), seed=seed)

    def seed(self, seed: int) -> None:
        self.generator = torch.Generator().manual_seed(int(seed))

    def _encode(self, obs: Any) -> torch.Tensor:
        if self._cache is not None and self._cache[0] is obs:
            return self._cache[1]
        return encode(obs, self.tables)

    # ------------------------------------------------------------------ loop interface
    def begin_episode(self) -> None:
        if bool(self.state.traces.any()):
            self.state = self.state._replace(traces=torch.zeros_like(self.state.traces))
        self._cache = self._last = None

    def act(self, obs: Any, greedy: bool = False) -> int:
        idx = self._encode(obs)
        u = None if greedy else float(torch.rand((), generator=self.generator, dtype=DTYPE))
        a, pi = act(idx, self.state, u)
        self._last = (idx, a, pi)
        return a

    def observe(self, reward: float, next_obs: Any, terminated: bool, truncated: bool) -> None:
        if self._last is None:
            raise RuntimeError("observe() follows act(): call agent.act(obs) first")
        idx, a, pi = self._last
        idx_next = encode(next_obs, self.tables)
        scale = 1.0 / (1.0 + self.episode / self.params.lr_decay) if self.params.lr_decay > 0 else 1.0
        self.state, _ = learn(self.state, self.params, idx, a, pi, float(reward), idx_next, bool(terminated),
                              bool(truncated), lr_scale=scale)
        self._cache = (next_obs, idx_next)

    def end_episode(self) -> None:
        self.episode += 1

    # ------------------------------------------------------------------ checkpoints
    def get_config(self) -> dict[str, Any]:
        return {"coding": self.coding.to_config(), "n_actions": self.n_actions,
                "params": dataclasses.asdict(self.params), "episode": self.episode}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "PlasticityAgent":
        cfg = dict(config)
        agent = cls(TileCoding(**cfg["coding"]), cfg["n_actions"], PlasticityParams(**cfg["params"]))
        agent.episode = int(cfg.get("episode", 0))
        return agent

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"weights": self.state.weights}

    def load_state_dict(self, state: dict[str, torch.Tensor], strict: bool = True) -> None:
        w = state["weights"].to(DTYPE)
        if w.shape != self.state.weights.shape:
            raise ValueError(f"weights of shape {tuple(w.shape)} do not fit this agent's {tuple(self.state.weights.shape)}: "
                             "load a checkpoint written for the same environment and population")
        self.state = ACState(w.clone(), torch.zeros_like(w))
