"""The rl command through click's CliRunner on the command object."""
import json

import pytest

pytest.importorskip("gymnasium")
from click.testing import CliRunner  # noqa: E402

from neuroplastic.rl import load_agent, run_episode  # noqa: E402
from neuroplastic.rl.cli import rl  # noqa: E402


@pytest.mark.parametrize("agent", ["plasticity", "snn-gradient", "mlp"])
def test_trains_saves_plots_and_writes_json(agent, tmp_path):
    out, js = tmp_path / "out", tmp_path / "r.json"
    res = CliRunner().invoke(rl, ["--env", "CartPole-v1", "--agent", agent, "--episodes", "3", "--seed", "2",
                                  "--out", str(out), "--json", str(js)])
    assert res.exit_code == 0, res.output
    doc = json.loads(js.read_text())
    assert len(doc["returns"]) == 3 and all(r >= 8 for r in doc["returns"])   # CartPole: >= 8 steps
    assert doc["solved_at_episode"] is None                    # 3 < 100 episodes
    assert doc["mean_return_last_100"] == pytest.approx(sum(doc["returns"]) / 3)
    assert json.loads((out / "results.json").read_text()) == doc
    assert (out / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    loaded = load_agent(out / "agent")
    import gymnasium as gym
    ret, _ = run_episode(loaded, gym.make("CartPole-v1"), seed=0, learn=False, greedy=True)
    assert ret >= 1


def test_same_seed_same_returns(tmp_path):
    docs = []
    for k in range(2):
        js = tmp_path / f"{k}.json"
        res = CliRunner().invoke(rl, ["--agent", "plasticity", "--episodes", "4", "--seed", "5",
                                      "--out", str(tmp_path / f"o{k}"), "--json", str(js)])
        assert res.exit_code == 0, res.output
        docs.append(json.loads(js.read_text())["returns"])
    assert docs[0] == docs[1]


@pytest.mark.parametrize("args, message", [
    (["--env", "Pendulum-v1"], "Discrete action space"),
    (["--env", "NoSuchEnv-v0"], "unknown environment id"),
    (["--agent", "dqn"], "Invalid value for '--agent'"),
    (["--episodes", "0"], "Invalid value for '--episodes'"),
])
def test_bad_input_is_a_one_line_error(args, message, tmp_path):
    res = CliRunner().invoke(rl, [*args, "--out", str(tmp_path / "o")])
    assert res.exit_code != 0
    assert message in res.output
    assert not (tmp_path / "o").exists()
