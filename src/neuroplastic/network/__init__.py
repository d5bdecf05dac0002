"""Network containers and runners: ``Sequential`` for layered models, ``Network`` for graphs
G = (V, E) of populations and projections run clock- or event-driven."""
from typing import Any

from neuroplastic.network._types import GraphState
from neuroplastic.network.event import compile_network, run_network
from neuroplastic.network.graph import (
    Network,
    Population,
    Projection,
    SpikeSource,
    all_to_all,
    cuba_network,
    fixed_probability,
    from_list,
    one_to_one,
    synaptic_propagator,
)
from neuroplastic.network.monitors import SpikeMonitor, StateMonitor
from neuroplastic.network.sequential import Sequential, is_stateful
from neuroplastic.network.state import NetState

__all__ = [
    "GraphState", "NetState", "Network", "Population", "Projection", "Sequential",
    "SpikeMonitor", "SpikeSource", "StateMonitor", "all_to_all", "compile_network", "cuba_network",
    "fixed_probability", "from_list", "is_stateful", "one_to_one", "run_network", "synaptic_propagator",
]


def __getattr__(name: str) -> Any:
    if name == "CurrentLIFParams":  # deprecated alias of neuroplastic.neurons.CubaLIFParams
        from neuroplastic.network import graph

        return graph.__getattr__(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
