"""Network containers and runners."""
from neuroplastic.network.sequential import Sequential, is_stateful
from neuroplastic.network.state import NetState

__all__ = ["NetState", "Sequential", "is_stateful"]
