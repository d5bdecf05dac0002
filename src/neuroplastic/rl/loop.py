"""The one environment loop every agent runs in: :func:`run_episode` and :func:`train`.

An agent implements ``begin_episode()``, ``act(obs, greedy=False) -> int``,
``observe(reward, next_obs, terminated, truncated)`` (online learning; called after every step
while learning) and ``end_episode()`` (episodic learning, e.g. a gradient step on the episode).
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import numpy as np

from neuroplastic.rl._gym import make_env, n_actions, reward_threshold

#: the solved criterion averages the returns of this many consecutive episodes
WINDOW = 100


@dataclasses.dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        returns: the return of each training episode.
        solved_at_episode: first episode (1-based) at which the mean of the last :data:`WINDOW`
            returns reached the threshold, else None.
        threshold: the threshold used (``env.spec.reward_threshold`` unless given).
        steps: environment steps taken.
        seconds: wall time of the loop.
        act_seconds: time spent inside ``agent.act`` (for the per-step action time).
    """

    returns: list[float]
    solved_at_episode: int | None
    threshold: float | None
    steps: int
    seconds: float
    act_seconds: float

    @property
    def mean_return_last_100(self) -> float | None:
        return float(np.mean(self.returns[-WINDOW:])) if self.returns else None

    def to_json(self) -> dict[str, Any]:
        return {"returns": [float(r) for r in self.returns], "solved_at_episode": self.solved_at_episode,
                "mean_return_last_100": self.mean_return_last_100, "reward_threshold": self.threshold,
                "steps": self.steps, "seconds": self.seconds,
                "act_us_per_step": 1e6 * self.act_seconds / max(self.steps, 1)}


def solved_at(returns: list[float], threshold: float | None, window: int = WINDOW) -> int | None:
    """First episode (1-based) ending a run of ``window`` episodes whose mean return is >= ``threshold``."""
    if threshold is None or len(returns) < window:
        return None
    c = np.cumsum(np.asarray(returns, dtype=np.float64))
    means = (c[window - 1:] - np.concatenate([[0.0], c[:-window]])) / window
    hit = np.nonzero(means >= threshold - 1e-9)[0]
    return int(hit[0]) + window if hit.size else None


def run_episode(agent: Any, env: Any, *, seed: int | None = None, learn: bool = True, greedy: bool = False,
                max_steps: int | None = None, timer: list[float] | None = None) -> tuple[float, int]:
    """Run one episode; the agent learns online (``observe``) and at the end (``end_episode``) if ``learn``.

    Returns:
        ``(return, steps)``.
    """
    obs, _ = env.reset(seed=seed)
    agent.begin_episode()
    total, steps = 0.0, 0
    while True:
        t0 = time.perf_counter()
        a = agent.act(obs, greedy=greedy)
        if timer is not None:
            timer[0] += time.perf_counter() - t0
        obs_next, r, terminated, truncated, _ = env.step(a)
        steps += 1
        if max_steps is not None and steps >= max_steps:
            truncated = True
        total += float(r)
        if learn:
            agent.observe(float(r), obs_next, bool(terminated), bool(truncated))
        obs = obs_next
        if terminated or truncated:
            break
    if learn:
        agent.end_episode()
    return total, steps


def train(agent: Any, env: Any, episodes: int, seed: int = 0, *, threshold: float | None = None,
          stop_when_solved: bool = False, progress: Callable[[int, float], None] | None = None) -> TrainResult:
    """Train ``agent`` on ``env`` (an environment or a gymnasium id) for ``episodes`` episodes.

    Episode ``i`` is reset with seed ``seed + i`` (so a run is reproducible for a seeded agent);
    the action space is seeded with ``seed``.

    Args:
        stop_when_solved: stop as soon as the last :data:`WINDOW` returns reach the threshold
            (the result then has fewer than ``episodes`` returns).
        progress: called after each episode with ``(episode, return)``.
    """
    env = make_env(env)
    n_actions(env)  # a clear error for a continuous action space
    if int(episodes) < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    thr = reward_threshold(env) if threshold is None else float(threshold)
    env.action_space.seed(int(seed))
    returns: list[float] = []
    steps, timer, t0 = 0, [0.0], time.perf_counter()
    solved = None
    for i in range(int(episodes)):
        ret, n = run_episode(agent, env, seed=int(seed) + i, timer=timer)
        returns.append(ret)
        steps += n
        if progress is not None:
            progress(i + 1, ret)
        if solved is None and thr is not None and len(returns) >= WINDOW:
            if float(np.mean(returns[-WINDOW:])) >= thr - 1e-9:
                solved = len(returns)
                if stop_when_solved:
                    break
    return TrainResult(returns, solved, thr, steps, time.perf_counter() - t0, timer[0])


def evaluate(agent: Any, env: Any, episodes: int = 10, seed: int = 10_000, greedy: bool = True) -> list[float]:
    """Returns of ``episodes`` episodes without learning (greedy actions by default)."""
    env = make_env(env)
    return [run_episode(agent, env, seed=seed + i, learn=False, greedy=greedy)[0] for i in range(int(episodes))]
