"""Bad input: each a clear error naming the fix."""
import sys

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

from neuroplastic.rl import AGENTS, make_agent, make_env, train  # noqa: E402
from neuroplastic.rl.tiles import tile_coding_for  # noqa: E402


class _Env(gym.Env):
    """A minimal env with a chosen observation space."""

    def __init__(self, observation_space, action_space=None):
        self.observation_space = observation_space
        self.action_space = action_space or gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 1.0, True, False, {}


def test_unknown_env_id():
    with pytest.raises(ValueError, match="unknown environment id 'CartPoel-v1'.*registered gymnasium id"):
        make_env("CartPoel-v1")
    with pytest.raises(ValueError, match="CartPole-v1"):      # the message suggests the close id
        make_env("CartPole-v9")


@pytest.mark.parametrize("agent", sorted(AGENTS))
@pytest.mark.parametrize("env_id", ["Pendulum-v1", "MountainCarContinuous-v0"])
def test_continuous_actions_are_refused(agent, env_id):
    with pytest.raises(ValueError, match="Box action space.*Discrete action space"):
        make_agent(agent, env_id)


def test_train_refuses_continuous_actions_for_a_built_agent():
    agent = make_agent("plasticity", "CartPole-v1")
    with pytest.raises(ValueError, match="Discrete action space"):
        train(agent, "Pendulum-v1", 1)


@pytest.mark.parametrize("agent", sorted(AGENTS))
def test_unbounded_box_needs_bounds(agent):
    env = _Env(gym.spaces.Box(-np.inf, np.inf, (3,), dtype=np.float64))
    with pytest.raises(ValueError, match=r"unbounded in dimension\(s\) \[0, 1, 2\].*pass bounds=\(low, high\)"):
        make_agent(agent, env)
    built = make_agent(agent, env, bounds=([-1.0] * 3, [1.0] * 3))   # the fix works
    assert built.act(np.zeros(3)) in (0, 1)


def test_partly_unbounded_space_names_the_dimension():
    env = _Env(gym.spaces.Box(np.array([-1.0, -np.inf]), np.array([1.0, np.inf]), dtype=np.float64))
    with pytest.raises(ValueError, match=r"dimension\(s\) \[1\]"):
        tile_coding_for(env)


@pytest.mark.parametrize("space", [
    gym.spaces.Dict({"a": gym.spaces.Box(-1, 1, (2,)), "b": gym.spaces.Discrete(3)}),
    gym.spaces.Discrete(5),
    gym.spaces.Box(-1, 1, (2, 2)),
])
@pytest.mark.parametrize("agent", sorted(AGENTS))
def test_observation_space_the_encoder_cannot_take(space, agent):
    with pytest.raises(ValueError, match="flat Box.*FlattenObservation"):
        make_agent(agent, _Env(space))


def test_unknown_agent_and_bad_settings():
    with pytest.raises(ValueError, match="unknown agent 'dqn'.*'plasticity'"):
        make_agent("dqn", "CartPole-v1")
    with pytest.raises(ValueError, match="lam must be in"):
        make_agent("plasticity", "CartPole-v1", lam=1.5)
    with pytest.raises(ValueError, match="episodes must be >= 1"):
        train(make_agent("mlp", "CartPole-v1"), "CartPole-v1", 0)


def test_missing_gymnasium_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "gymnasium", None)     # import gymnasium now raises ImportError
    with pytest.raises(ImportError, match=r"pip install neuroplastic\[rl\]"):
        make_env("CartPole-v1")
