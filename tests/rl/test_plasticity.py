"""The three-factor actor-critic: traces, TD error, its sign, sampling, determinism (hand-computed references)."""
import math

import pytest

gym = pytest.importorskip("gymnasium")
import torch  # noqa: E402

from neuroplastic.plasticity.stdp import trace_step  # noqa: E402
from neuroplastic.rl import PlasticityAgent, PlasticityParams, ac_init, act, learn, train  # noqa: E402
from neuroplastic.rl.plasticity import policy, td_error, value  # noqa: E402

P = PlasticityParams(gamma=0.9, lam=0.5, actor_lr=0.1, critic_lr=0.2)   # gamma * lambda = 0.45
I = lambda *v: torch.tensor(v, dtype=torch.int64)  # noqa: E731


def test_traces_follow_hand_computed_sequence():
    s = ac_init(4, 2)
    pi = [0.5, 0.5]
    # step 1: neurons {0, 1} active, action 0; delta overridden to 0 so only the traces move
    s, _ = learn(s, P, I(0, 1), 0, pi, 0.0, I(2, 3), False, False, delta=0.0)
    assert s.traces[0].tolist() == [1.0, 1.0, 0.0, 0.0]
    assert s.traces[1].tolist() == [0.5, 0.5, 0.0, 0.0]       # 1 - pi(0)
    assert s.traces[2].tolist() == [-0.5, -0.5, 0.0, 0.0]     # 0 - pi(1)
    # step 2: neurons {1, 2}, action 1, pi = (0.2, 0.8)
    s, _ = learn(s, P, I(1, 2), 1, [0.2, 0.8], 0.0, I(0, 3), False, False, delta=0.0)
    assert torch.allclose(s.traces[0], torch.tensor([0.45, 1.45, 1.0, 0.0], dtype=torch.float64))
    assert torch.allclose(s.traces[1], torch.tensor([0.225, 0.225 - 0.2, -0.2, 0.0], dtype=torch.float64))
    assert torch.allclose(s.traces[2], torch.tensor([-0.225, -0.225 + 0.2, 0.2, 0.0], dtype=torch.float64))
    assert torch.count_nonzero(s.weights) == 0                 # no third factor, no change


def test_traces_equal_the_library_trace_step():
    torch.manual_seed(0)
    s = ac_init(12, 3)
    e_ref = torch.zeros(4, 12, dtype=torch.float64)
    for _ in range(6):
        idx = torch.randperm(12)[:3]
        pi = torch.softmax(torch.randn(3, dtype=torch.float64), 0).tolist()
        a = int(torch.randint(3, ()))
        s, _ = learn(s, P, idx, a, pi, 0.0, idx, False, False, delta=0.0)
        post = torch.tensor([1.0] + [(a == k) - p for k, p in enumerate(pi)], dtype=torch.float64)
        phi = torch.zeros(12, dtype=torch.float64)
        phi[idx] = 1.0
        e_ref = trace_step(e_ref, post[:, None] * phi[None, :], P.gamma * P.lam, "all")
    assert torch.allclose(s.traces, e_ref)


def test_weights_follow_hand_computed_td_updates():
    s = ac_init(3, 2)
    # step 1 from zero weights: V = 0, delta = r = 1
    s, d1 = learn(s, P, I(0), 0, [0.5, 0.5], 1.0, I(1), False, False)
    assert d1 == 1.0
    assert s.weights[0].tolist() == pytest.approx([0.2, 0.0, 0.0])                # critic_lr * 1 * e
    assert s.weights[1].tolist() == pytest.approx([0.05, 0.0, 0.0])               # actor_lr * 1 * 0.5
    assert s.weights[2].tolist() == pytest.approx([-0.05, 0.0, 0.0])
    # step 2: V(s=1) = 0, V(s'=0) = 0.2, r = 0: delta = 0.9 * 0.2 = 0.18; trace of neuron 0 is now 0.45
    s, d2 = learn(s, P, I(1), 1, [0.4, 0.6], 0.0, I(0), False, False)
    assert d2 == pytest.approx(0.18)
    assert s.weights[0].tolist() == pytest.approx([0.2 + 0.2 * 0.18 * 0.45, 0.2 * 0.18, 0.0])
    assert s.weights[2].tolist() == pytest.approx([-0.05 + 0.1 * 0.18 * (-0.5 * 0.45), 0.1 * 0.18 * 0.4, 0.0])


def test_normalise_divides_the_rates_by_the_active_population():
    a, _ = learn(ac_init(8, 2), P, I(0, 1, 2, 3), 0, [0.5, 0.5], 1.0, I(4), True, False)
    pn = PlasticityParams(gamma=0.9, lam=0.5, actor_lr=0.1, critic_lr=0.2, normalise=True)
    b, _ = learn(ac_init(8, 2), pn, I(0, 1, 2, 3), 0, [0.5, 0.5], 1.0, I(4), True, False)
    assert torch.allclose(b.weights * 4, a.weights)


def test_termination_does_not_bootstrap_and_truncation_does():
    s = ac_init(2, 2)._replace(weights=torch.tensor([[1.0, 3.0], [0, 0], [0, 0]], dtype=torch.float64))
    assert td_error(s, I(0), 1.0, I(1), True, 0.9) == pytest.approx(1.0 - 1.0)
    assert td_error(s, I(0), 1.0, I(1), False, 0.9) == pytest.approx(1.0 + 0.9 * 3.0 - 1.0)
    for terminated, truncated in ((True, False), (False, True)):
        new, _ = learn(s, P, I(0), 0, [0.5, 0.5], 1.0, I(1), terminated, truncated)
        assert torch.count_nonzero(new.traces) == 0            # traces end with the episode
    new, _ = learn(s, P, I(0), 0, [0.5, 0.5], 1.0, I(1), False, False)
    assert torch.count_nonzero(new.traces) > 0


@pytest.mark.parametrize("delta, direction", [(-1.0, -1), (1.0, 1)])
def test_sign_of_td_error_sets_direction_of_the_chosen_action(delta, direction):
    s = ac_init(6, 3)
    idx = I(1, 4)
    before = policy(idx, s)
    new, _ = learn(s, P, idx, 2, before.tolist(), 0.0, I(0), False, False, delta=delta)
    after = policy(idx, new)
    pref = new.weights[1:, idx].sum(1)
    assert math.copysign(1, float(pref[2])) == direction       # chosen action's preference
    assert (float(pref[0]) > 0) == (direction < 0)              # the others move the other way
    assert (float(after[2]) - float(before[2])) * direction > 0
    assert (value(idx, new) - value(idx, s)) * direction > 0    # the critic follows the same sign


def test_inputs_are_not_mutated():
    s = ac_init(5, 2)
    w0, e0 = s.weights.clone(), s.traces.clone()
    learn(s, P, I(0, 2), 1, [0.3, 0.7], 1.0, I(3), False, False)
    assert torch.equal(s.weights, w0) and torch.equal(s.traces, e0)


def test_act_is_inverse_cdf_sampling_and_greedy_is_argmax():
    s = ac_init(2, 3)._replace(weights=torch.tensor([[0, 0], [0, 0], [math.log(3.0), 0], [0, 0]], dtype=torch.float64))
    pi = policy(I(0), s).tolist()                               # (0.2, 0.6, 0.2)
    assert pi == pytest.approx([0.2, 0.6, 0.2])
    assert act(I(0), s, 0.19)[0] == 0
    assert act(I(0), s, 0.21)[0] == 1
    assert act(I(0), s, 0.79)[0] == 1
    assert act(I(0), s, 0.81)[0] == 2
    assert act(I(0), s, None)[0] == 1


def _run(seed, episodes=4):
    env = gym.make("CartPole-v1")
    agent = PlasticityAgent.for_env(env, seed=seed)
    res = train(agent, env, episodes, seed=seed)
    return res.returns, agent.state.weights


def test_deterministic_under_a_seed():
    r1, w1 = _run(3)
    r2, w2 = _run(3)
    r3, w3 = _run(4)
    assert r1 == r2 and torch.equal(w1, w2)
    assert r1 != r3 or not torch.equal(w1, w3)


def test_learns_cartpole_quickly():
    # the prototype's settings: the mean return of episodes 31-40 is far above that of episodes 1-10
    returns, _ = _run(0, episodes=40)
    assert sum(returns[-10:]) / 10 > 2 * sum(returns[:10]) / 10
