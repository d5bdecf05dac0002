"""Compression and efficiency: operation/energy accounting, pruning, sparse storage, quantization."""
from neuroplastic.compress.energy import (
    ACTIVATION_OPS,
    NEURON_OPS,
    EnergyModel,
    LayerProfile,
    ProfileReport,
    profile,
    register_counter,
)
from neuroplastic.compress.prune import (
    TurnoverCallback,
    apply_masks,
    install_masks,
    load_pruned_state_dict,
    masks,
    prunable,
    prune_magnitude,
    prune_regrow,
    prune_structured,
    remove_masks,
    sparsity,
)
from neuroplastic.compress.sparse import SparseState, from_sparse, to_sparse

__all__ = [
    "ACTIVATION_OPS", "NEURON_OPS", "EnergyModel", "LayerProfile", "ProfileReport", "SparseState",
    "TurnoverCallback", "apply_masks", "from_sparse", "install_masks", "load_pruned_state_dict", "masks",
    "profile", "prunable", "prune_magnitude", "prune_regrow", "prune_structured", "register_counter",
    "remove_masks", "sparsity", "to_sparse",
]
