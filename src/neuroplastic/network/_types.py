"""Types shared by the network runners and their engines (torch reference, C, plasticity).

Kept apart so that the engines (:mod:`._event_c`, :mod:`.plastic`) and the runner
(:mod:`.event`) import them without importing one another.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch

from neuroplastic.neurons.cuba_lif import CubaLIFConstants

#: Order of the per-population constants in ``CompiledNetwork.pconst`` (the C engine's layout).
CONST_NAMES = ("a", "b_exc", "b_inh", "c_exc", "c_inh", "v_inf", "v_th", "v_reset")


class GraphState(NamedTuple):
    """State of a whole network (all populations concatenated in insertion order).

    Attributes:
        v: membrane potentials ``[N]``.
        i_exc: excitatory currents ``[N]`` (voltage units).
        i_inh: inhibitory currents ``[N]``.
        ref: remaining refractory steps ``[N]`` (int32).
        ring: pending synaptic input ``[R, 2, N]``; slot ``s mod R`` is delivered at step ``s``.
        step: index of the next step (0-d int64).
        weight: the current synaptic weights ``[nnz]`` in the global CSR order of the compiled
            network, only when some projection is plastic (else None: the weights are the
            network's). Read them per projection with :meth:`Network.weights`.
        plasticity: the rule state (traces, batch 1) of each plastic projection, in order.
    """

    v: torch.Tensor
    i_exc: torch.Tensor
    i_inh: torch.Tensor
    ref: torch.Tensor
    ring: torch.Tensor
    step: torch.Tensor
    weight: torch.Tensor | None = None
    plasticity: tuple = ()


class RunOutput(NamedTuple):
    """What an ``"event_run"`` engine returns: final state, spikes (global index, step), records.

    ``record`` is ``[n_recorded_steps, 3, K]`` with rows ``v, i_exc, i_inh`` of the ``K``
    requested neurons after each step flagged in ``rec_mask``. ``weight_updates`` counts the
    synapse updates plasticity made (0 without plasticity).
    """

    state: GraphState
    spike_idx: torch.Tensor
    spike_step: torch.Tensor
    record: torch.Tensor
    weight_updates: int = 0


@dataclass(frozen=True)
class PlasticLink:
    """A plastic projection, compiled: its rule, index maps and bounds.

    ``pre``/``post`` are the global ranges of the two populations. Synapse ``k`` of the projection
    (its CSR order) joins local ``pre_local[k] -> post_local[k]`` and sits at ``gpos[k]`` of the
    global CSR arrays. ``row_ptr`` is the projection's CSR over pre neurons; ``col_ptr`` with
    ``col_perm`` the CSC over post neurons (``col_perm[col_ptr[j]:col_ptr[j+1]]`` are the
    synapses onto ``j``).
    """

    name: str
    rule: Any
    pre: tuple[int, int]
    post: tuple[int, int]
    pre_local: torch.Tensor
    post_local: torch.Tensor
    gpos: torch.Tensor
    row_ptr: torch.Tensor
    col_ptr: torch.Tensor
    col_perm: torch.Tensor
    wmin: float
    wmax: float


@dataclass(frozen=True)
class CompiledNetwork:
    """Flat arrays of a network for one dtype/device (built once by ``compile_network``)."""

    dt: float
    n: int
    ring_size: int
    dtype: torch.dtype
    device: torch.device
    pops: tuple[tuple[str, int, int, bool], ...]  # name, start, stop, is_lif
    pconst: torch.Tensor  # [P, 8] float64 constants per population (CONST_NAMES)
    pnref: torch.Tensor  # [P] int32 refractory steps
    consts: CubaLIFConstants  # per-neuron constants (dtype; n_ref int32) for cuba_lif_integrate
    indptr: torch.Tensor  # [N + 1] int64, global CSR over presynaptic neurons
    offset: torch.Tensor  # [nnz] int32: delay * 2N + receptor * N + global post index
    weight: torch.Tensor  # [nnz] dtype (initial weights)
    src_idx: torch.Tensor  # [S] int64 global, sorted by (step, index)
    src_step: torch.Tensor  # [S] int64
    clock: tuple[tuple[int, int, int, int, int, int, Any], ...]  # pre/post ranges, receptor, delay, Projection
    v_init: tuple[Any, ...]
    seed: int
    plastic: tuple[PlasticLink, ...] = ()
    clock_gpos: tuple[torch.Tensor, ...] = ()  # per projection: global CSR positions of its synapses
    cache: dict = field(default_factory=dict, compare=False, repr=False)


def check_state(cn: CompiledNetwork, state: GraphState) -> GraphState:
    """Raise a clear error unless ``state`` fits the compiled network."""
    if not isinstance(state, GraphState):
        raise TypeError(f"state must be a GraphState, got {type(state).__name__}: pass state=None to start fresh")
    if state.v.shape != (cn.n,) or state.ring.shape != (cn.ring_size, 2, cn.n):
        raise ValueError(f"state is for {state.v.shape[0]} neurons / ring {tuple(state.ring.shape)}, the network has "
                         f"{cn.n} / {(cn.ring_size, 2, cn.n)}: pass state=None to start fresh")
    if cn.plastic:
        if state.weight is None or state.weight.shape != cn.weight.shape or len(state.plasticity) != len(cn.plastic):
            raise ValueError("state has no plastic weights/traces for this network's plastic projections: "
                             "pass state=None to start fresh (or a state from a run of this network)")
    elif state.weight is not None or state.plasticity:
        raise ValueError("state carries plastic weights but the network has no plastic projection: "
                         "pass state=None to start fresh")
    return state
