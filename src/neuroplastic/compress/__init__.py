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
from neuroplastic.compress.quantize import (
    FakeQuant,
    FixedPointLIF,
    FixedPointLIFState,
    check_bits,
    convert_qat,
    dequantize,
    fake_quantize,
    prepare_qat,
    quantize,
    quantize_membrane,
    quantize_weights,
    weight_scales,
)
from neuroplastic.compress.sparse import SparseState, from_sparse, to_sparse

__all__ = [
    "ACTIVATION_OPS", "NEURON_OPS", "EnergyModel", "FakeQuant", "FixedPointLIF", "FixedPointLIFState",
    "LayerProfile", "ProfileReport", "SparseState", "TurnoverCallback", "apply_masks", "check_bits",
    "convert_qat", "dequantize", "fake_quantize", "from_sparse", "install_masks", "load_pruned_state_dict",
    "masks", "prepare_qat", "profile", "prunable", "prune_magnitude", "prune_regrow", "prune_structured",
    "quantize", "quantize_membrane", "quantize_weights", "register_counter", "remove_masks", "sparsity",
    "to_sparse", "weight_scales",
]
