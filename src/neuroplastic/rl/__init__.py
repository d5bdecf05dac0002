"""Reinforcement learning on gymnasium environments (optional: ``pip install neuroplastic[rl]``).

Three agents share one loop (:func:`run_episode`, :func:`train`):

* ``"plasticity"`` (:class:`PlasticityAgent`): actor-critic over a tile-coded binary population
  learned by a three-factor rule (eligibility traces, TD error as the modulator);
* ``"snn-gradient"`` (:class:`SpikingAgent`): a LIF actor-critic trained by surrogate gradients;
* ``"mlp"`` (:class:`MLPAgent`): the backprop baseline.

gymnasium is imported only when an environment is made (:func:`make_env`); without it the error
names ``pip install neuroplastic[rl]``.
"""
from neuroplastic.rl._gym import INSTALL_HINT, make_env, require_gymnasium
from neuroplastic.rl.agents import AGENTS, load_agent, make_agent, save_agent
from neuroplastic.rl.loop import TrainResult, evaluate, run_episode, solved_at, train
from neuroplastic.rl.mlp import MLPAgent
from neuroplastic.rl.plasticity import ACState, PlasticityAgent, PlasticityParams, ac_init, act, encode, learn
from neuroplastic.rl.snn import SpikingAgent
from neuroplastic.rl.tiles import KNOWN_BOUNDS, TileCoding, tile_coding_for, tile_encode

__all__ = [
    "AGENTS", "ACState", "INSTALL_HINT", "KNOWN_BOUNDS", "MLPAgent", "PlasticityAgent", "PlasticityParams",
    "SpikingAgent", "TileCoding", "TrainResult", "ac_init", "act", "encode", "evaluate", "learn", "load_agent",
    "make_agent", "make_env", "require_gymnasium", "run_episode", "save_agent", "solved_at", "tile_coding_for",
    "tile_encode", "train",
]
