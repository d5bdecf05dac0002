"""Save/load: safetensors + JSON, identical greedy actions after the round trip."""
import json

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")
import torch  # noqa: E402

from torch import nn  # noqa: E402

from neuroplastic.io import CheckpointError, register_serializable, save  # noqa: E402
from neuroplastic.rl import AGENTS, load_agent, make_agent, run_episode, save_agent, train  # noqa: E402


@register_serializable("tests.rl.Affine")
class _Affine(nn.Linear):
    def get_config(self):
        return {"in_features": self.in_features, "out_features": self.out_features}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_round_trip_gives_identical_greedy_actions(name, tmp_path):
    env = gym.make("CartPole-v1")
    agent = make_agent(name, env, seed=1)
    train(agent, env, 3, seed=1)
    save_agent(agent, tmp_path / "a", extra={"note": "x"})
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == ["config.json", "weights.safetensors"]
    doc = json.loads((tmp_path / "a" / "config.json").read_text())
    assert doc["kind"] == f"neuroplastic.rl.{type(agent).__name__}"
    assert doc["extra"]["note"] == "x"
    loaded = load_agent(tmp_path / "a")
    assert type(loaded) is type(agent)
    for k, v in agent.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    rng = np.random.default_rng(0)
    obs = rng.uniform([-2.4, -3, -0.2, -3.5], [2.4, 3, 0.2, 3.5], size=(200, 4))
    a1 = [agent.act(o, greedy=True) for o in obs]
    a2 = [loaded.act(o, greedy=True) for o in obs]
    assert a1 == a2
    r1 = run_episode(agent, env, seed=7, learn=False, greedy=True)
    r2 = run_episode(loaded, env, seed=7, learn=False, greedy=True)
    assert r1 == r2


def test_save_replaces_and_load_refuses_other_objects(tmp_path):
    agent = make_agent("plasticity", "CartPole-v1")
    save_agent(agent, tmp_path / "a")
    agent.state = agent.state._replace(weights=agent.state.weights + 1.0)
    save_agent(agent, tmp_path / "a")                            # atomic replace of the older checkpoint
    assert torch.equal(load_agent(tmp_path / "a").state.weights, agent.state.weights)
    with pytest.raises(TypeError, match="save_agent saves the agents"):
        save_agent(nn.Linear(2, 2), tmp_path / "b")
    save(_Affine(2, 2), tmp_path / "c")
    with pytest.raises(CheckpointError, match="not a neuroplastic.rl agent"):
        load_agent(tmp_path / "c")


def test_tampered_population_size_is_refused(tmp_path):
    agent = make_agent("plasticity", "CartPole-v1")
    save_agent(agent, tmp_path / "a")
    cfg_path = tmp_path / "a" / "config.json"
    doc = json.loads(cfg_path.read_text())
    doc["config"]["coding"]["bins"] = 6
    cfg_path.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError):
        load_agent(tmp_path / "a")
