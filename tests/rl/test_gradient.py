"""The backprop agents: returns with bootstrap, a gradient step, surrogate gradients, determinism."""
import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")
import torch  # noqa: E402

from neuroplastic.rl import MLPAgent, SpikingAgent, train  # noqa: E402
from neuroplastic.rl._gradient import discounted_returns  # noqa: E402


def test_discounted_returns_hand_computed():
    assert discounted_returns([1.0, 1.0, 1.0], 0.5).tolist() == [1.75, 1.5, 1.0]
    assert discounted_returns([1.0, 1.0], 0.5, tail=4.0).tolist() == [2.5, 3.0]   # 1 + .5 * 4 = 3


class _Chain(gym.Env):
    """Three steps, reward 1 each; ``truncate``: the episode is cut instead of terminating."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, truncate):
        self.truncate = truncate

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        end = self.t == 3
        return np.full(2, self.t / 3, np.float32), 1.0, end and not self.truncate, end and self.truncate, {}


@pytest.mark.parametrize("truncate", [False, True])
def test_critic_target_bootstraps_only_on_truncation(truncate, monkeypatch):
    agent = MLPAgent.for_env(_Chain(truncate), gamma=0.5, return_scale=1.0)
    with torch.no_grad():
        v_final = float(agent.net(agent.normalise(np.full(2, 1.0, np.float32))[None])[1][0])
    seen = {}
    real = discounted_returns

    def spy(rewards, gamma, tail=0.0):
        seen["tail"] = tail
        return real(rewards, gamma, tail)

    monkeypatch.setattr("neuroplastic.rl._gradient.discounted_returns", spy)
    train(agent, _Chain(truncate), 1, threshold=1e9)
    assert seen["tail"] == (pytest.approx(v_final, abs=1e-6) if truncate else 0.0)


@pytest.mark.parametrize("cls", [MLPAgent, SpikingAgent])
def test_one_episode_is_one_step_that_favours_the_better_action(cls):
    # two one-step episodes from the same state: action 0 earns 1, action 1 earns 0; after
    # training on both, pi(0) rises
    class Bandit(_Chain):
        def step(self, action):
            return np.zeros(2, np.float32), float(action == 0), True, False, {}

    env = Bandit(False)
    agent = cls.for_env(env, seed=0, lr=0.02, entropy_coef=0.0, return_scale=1.0)
    x = agent.normalise(np.zeros(2, np.float32))[None]
    with torch.no_grad():
        p0 = torch.softmax(agent.net(x)[0], 1)[0, 0].item()
    train(agent, env, 60, seed=0, threshold=1e9)
    with torch.no_grad():
        p1 = torch.softmax(agent.net(x)[0], 1)[0, 0].item()
    assert p1 > p0 + 0.1


def test_spiking_net_spikes_and_passes_surrogate_gradients():
    agent = SpikingAgent.for_env(gym.make("CartPole-v1"), seed=0)
    x = agent.normalise(np.random.default_rng(0).uniform(-1, 1, (32, 4)))
    logits, value, spikes = agent.net(x, return_spikes=True)
    assert spikes.shape == (agent.arch["n_steps"], 32, agent.arch["hidden"])
    assert set(torch.unique(spikes).tolist()) <= {0.0, 1.0} and 0 < spikes.mean() < 1
    (logits.sum() + value.sum()).backward()
    assert agent.net.inp.weight.grad.abs().sum() > 0         # only through the surrogate of the spikes


@pytest.mark.parametrize("cls", [MLPAgent, SpikingAgent])
def test_deterministic_under_a_seed(cls):
    def run(seed):
        env = gym.make("CartPole-v1")
        agent = cls.for_env(env, seed=seed)
        return train(agent, env, 3, seed=seed).returns, [p.detach().clone() for p in agent.net.parameters()]

    (r1, p1), (r2, p2) = run(1), run(1)
    assert r1 == r2 and all(torch.equal(a, b) for a, b in zip(p1, p2))
