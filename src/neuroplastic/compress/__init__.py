"""Compression and efficiency: operation/energy accounting, pruning, quantization."""
from neuroplastic.compress.energy import (
    ACTIVATION_OPS,
    NEURON_OPS,
    EnergyModel,
    LayerProfile,
    ProfileReport,
    profile,
    register_counter,
)

__all__ = [
    "ACTIVATION_OPS", "NEURON_OPS", "EnergyModel", "LayerProfile", "ProfileReport", "profile",
    "register_counter",
]
