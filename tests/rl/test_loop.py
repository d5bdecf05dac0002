"""The environment loop and the solved criterion."""
import pytest

gym = pytest.importorskip("gymnasium")

from neuroplastic.rl import make_agent, run_episode, solved_at, train  # noqa: E402


def test_solved_at_hand_computed():
    assert solved_at([1.0] * 99, 1.0) is None
    assert solved_at([1.0] * 100, 1.0) == 100
    r = [0.0] * 50 + [2.0] * 100        # mean of episodes k-99..k reaches 1 first when 50 twos are in: k = 100
    assert solved_at(r, 1.0) == 100
    assert solved_at([0.0] * 40 + [1.0] * 150, 1.0) == 140
    assert solved_at([5.0] * 200, None) is None


def test_train_counts_and_early_stop():
    env = gym.make("CartPole-v1")
    agent = make_agent("plasticity", env, seed=0)
    res = train(agent, env, 5, seed=0)
    assert len(res.returns) == 5 and res.steps == sum(res.returns)     # CartPole: +1 per step
    assert res.threshold == 475.0 and res.solved_at_episode is None
    # a threshold every run reaches: stops after the first window (an agent that does not learn: short episodes)
    still = make_agent("plasticity", env, seed=0, actor_lr=0.0, critic_lr=0.0)
    res2 = train(still, env, 300, seed=0, threshold=1.0, stop_when_solved=True)
    assert res2.solved_at_episode == 100 and len(res2.returns) == 100
    assert solved_at(res2.returns, 1.0) == 100


def test_run_episode_without_learning_leaves_the_agent_unchanged():
    env = gym.make("CartPole-v1")
    agent = make_agent("plasticity", env, seed=0)
    train(agent, env, 2, seed=0)
    w = agent.state.weights.clone()
    ret, steps = run_episode(agent, env, seed=3, learn=False, greedy=True)
    assert ret == steps and (agent.state.weights == w).all()
