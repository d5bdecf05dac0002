"""The agents by name, and their checkpoints (safetensors weights + JSON config, atomic writes).

A checkpoint is the folder of :func:`neuroplastic.io.save`: ``config.json`` (the agent's class
and settings: population or network sizes, bounds, rates) and ``weights.safetensors`` (its
synapses). Traces, optimiser state and random generators are not saved: a loaded agent is meant
to be run (greedily, ``run_episode(agent, env, learn=False, greedy=True)``) or trained further
from fresh traces.
"""
from __future__ import annotations

import os
from typing import Any

from neuroplastic.io import CheckpointError, load, save
from neuroplastic.rl._gym import make_env
from neuroplastic.rl.mlp import MLPAgent
from neuroplastic.rl.plasticity import PlasticityAgent
from neuroplastic.rl.snn import SpikingAgent

#: agent name (as the ``rl --agent`` option spells it) -> class
AGENTS: dict[str, type] = {"plasticity": PlasticityAgent, "snn-gradient": SpikingAgent, "mlp": MLPAgent}


def make_agent(name: str, env: Any, *, seed: int = 0, **settings: Any) -> Any:
    """Build agent ``name`` (one of :data:`AGENTS`) sized for ``env`` (an environment or an id)."""
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}: choose one of {', '.join(map(repr, AGENTS))}")
    return AGENTS[name].for_env(make_env(env), seed=seed, **settings)


def save_agent(agent: Any, path: str | os.PathLike[str], *, extra: dict[str, Any] | None = None) -> Any:
    """Write ``agent`` to the checkpoint folder ``path`` (atomically; replaces an older checkpoint)."""
    if not isinstance(agent, tuple(AGENTS.values())):
        raise TypeError(f"save_agent saves the agents of neuroplastic.rl ({', '.join(AGENTS)}), got {type(agent).__name__}")
    return save(agent, path, extra=extra)


def load_agent(path: str | os.PathLike[str]) -> Any:
    """Load an agent written by :func:`save_agent`."""
    agent = load(path)
    if not isinstance(agent, tuple(AGENTS.values())):
        raise CheckpointError(f"{path} holds a {type(agent).__name__}, not a neuroplastic.rl agent: pass the folder "
                              "written by save_agent or `neuroplastic rl --out`")
    return agent
