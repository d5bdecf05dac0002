"""Gymnasium access (an optional dependency, imported lazily) and the checks on spaces."""
from __future__ import annotations

from typing import Any

INSTALL_HINT = "pip install neuroplastic[rl]"


def require_gymnasium() -> Any:
    """Import and return :mod:`gymnasium`, or raise ``ImportError`` naming the extra to install."""
    try:
        import gymnasium
    except ImportError as e:  # pragma: no cover - exercised only without gymnasium
        raise ImportError(f"neuroplastic.rl needs gymnasium: {INSTALL_HINT} (or pip install gymnasium)") from e
    return gymnasium


def make_env(env: Any, **kwargs: Any) -> Any:
    """``gymnasium.make(env)`` for an id, or ``env`` itself if it is already an environment.

    Raises:
        ValueError: the id is not registered (the message lists a few that are).
    """
    if not isinstance(env, str):
        if not (hasattr(env, "step") and hasattr(env, "reset") and hasattr(env, "action_space")):
            raise TypeError(f"env must be a gymnasium id such as 'CartPole-v1' or an environment, got {type(env).__name__}")
        return env
    gym = require_gymnasium()
    if env not in gym.envs.registry:
        ids = sorted(gym.envs.registry)
        close = [i for i in ids if env.split("-")[0].lower() in i.lower()][:5]
        hint = f"did you mean {', '.join(close)}?" if close else "e.g. 'CartPole-v1' or 'Acrobot-v1'"
        raise ValueError(f"unknown environment id {env!r}: pass a registered gymnasium id ({hint})")
    return gym.make(env, **kwargs)


def env_name(env: Any) -> str:
    spec = getattr(env, "spec", None)
    return getattr(spec, "id", None) or type(getattr(env, "unwrapped", env)).__name__


def n_actions(env: Any) -> int:
    """Number of actions of a discrete action space; a clear error for any other space."""
    gym = require_gymnasium()
    space = env.action_space
    if not isinstance(space, gym.spaces.Discrete):
        kind = type(space).__name__
        raise ValueError(f"{env_name(env)} has a {kind} action space but the neuroplastic.rl agents choose among "
                         "discrete actions: use an environment with a Discrete action space (e.g. CartPole-v1, "
                         "Acrobot-v1, MountainCar-v0 instead of MountainCarContinuous-v0), or wrap it to discretise "
                         "the actions")
    if int(space.start) != 0:
        raise ValueError(f"{env_name(env)}'s Discrete action space starts at {int(space.start)}: the agents emit "
                         "actions 0..n-1; wrap the env with gymnasium.wrappers.TransformAction to shift them")
    return int(space.n)


def box_space(env: Any) -> Any:
    """The flat ``Box`` observation space of ``env``; a clear error for any other space."""
    gym = require_gymnasium()
    space = env.observation_space
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        kind = type(space).__name__ + (f" of shape {space.shape}" if isinstance(space, gym.spaces.Box) else "")
        raise ValueError(f"{env_name(env)} has a {kind} observation space; the neuroplastic.rl encoders take a flat "
                         "Box (a vector): wrap the env with gymnasium.wrappers.FlattenObservation")
    return space


def reward_threshold(env: Any) -> float | None:
    spec = getattr(env, "spec", None)
    thr = getattr(spec, "reward_threshold", None)
    return None if thr is None else float(thr)
