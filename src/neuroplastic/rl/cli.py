"""The ``rl`` command: train an agent on a gymnasium environment, save it, its curve and its returns.

Wire it into the main command with ``main.add_command(rl)`` (it is a plain :class:`click.Command`).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from neuroplastic._core.atomic import atomic_savefig, atomic_write_text


def _plot(returns: list[float], threshold: float | None, title: str, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from neuroplastic.rl.loop import WINDOW

    r = np.asarray(returns, dtype=float)
    fig, ax = plt.subplots(figsize=(7, 4))
    x = np.arange(1, len(r) + 1)
    ax.plot(x, r, lw=0.6, alpha=0.5, label="return")
    if len(r) >= 1:
        c = np.cumsum(np.concatenate([[0.0], r]))
        k = np.minimum(np.arange(1, len(r) + 1), WINDOW)
        ax.plot(x, (c[1:] - c[np.arange(1, len(r) + 1) - k]) / k, lw=1.5, label=f"mean of last {WINDOW}")
    if threshold is not None:
        ax.axhline(threshold, color="k", ls="--", lw=0.8, label=f"threshold {threshold:g}")
    ax.set_xlabel("episode")
    ax.set_ylabel("return")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=110)
    plt.close(fig)


@click.command("rl", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--env", "env_id", default="CartPole-v1", show_default=True,
              help="Gymnasium id of an environment with a Discrete action space and a Box observation space.")
@click.option("--agent", "agent_name", type=click.Choice(["plasticity", "snn-gradient", "mlp"]), default="plasticity",
              show_default=True, help="Three-factor plasticity, surrogate-gradient spiking net, or backprop MLP.")
@click.option("--episodes", type=click.IntRange(min=1), default=1000, show_default=True, help="Most training episodes.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of agent and episodes.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("rl_out"), show_default=True,
              help="Folder for the agent checkpoint (agent/), learning_curve.png and results.json.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the results (returns, solved_at_episode, mean_return_last_100) here.")
@click.option("--keep-training", is_flag=True,
              help="Run all --episodes (by default training stops once the last 100 returns reach the threshold).")
def rl(env_id: str, agent_name: str, episodes: int, seed: int, out: Path, json_path: Path | None,
       keep_training: bool) -> None:
    """Train a reinforcement-learning agent; stop early once solved (mean of the last 100 returns
    reaches the environment's reward threshold) unless --keep-training."""
    try:
        from neuroplastic.rl._gym import make_env
        from neuroplastic.rl.agents import make_agent, save_agent
        from neuroplastic.rl.loop import train

        env = make_env(env_id)
        agent = make_agent(agent_name, env, seed=seed)
    except (ValueError, ImportError, TypeError) as e:
        raise click.ClickException(f"{type(e).__name__}: {e}") from e
    with click.progressbar(length=episodes, label=f"{agent_name} on {env_id}", file=sys.stderr,
                           show_pos=True) as bar:
        res = train(agent, env, episodes, seed=seed, stop_when_solved=not keep_training,
                    progress=lambda i, r: bar.update(1))
    doc = {"env": env_id, "agent": agent_name, "seed": seed, "episodes": len(res.returns), **res.to_json()}
    out.mkdir(parents=True, exist_ok=True)
    save_agent(agent, out / "agent", extra={"env": env_id, "seed": seed, "solved_at_episode": res.solved_at_episode})
    _plot(res.returns, res.threshold, f"{agent_name} on {env_id} (seed {seed})", out / "learning_curve.png")
    text = json.dumps(doc, indent=1)
    atomic_write_text(out / "results.json", text)
    if json_path is not None:
        atomic_write_text(json_path, text)
    solved = f"solved at episode {res.solved_at_episode}" if res.solved_at_episode else "not solved"
    click.echo(f"{agent_name} on {env_id}: {solved}; mean of the last 100 returns "
               f"{res.mean_return_last_100:.1f} after {len(res.returns)} episodes; saved to {out}")
