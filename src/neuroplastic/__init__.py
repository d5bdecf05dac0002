"""neuroplastic: brain-inspired neural networks for PyTorch.

Spiking neurons (LIF, adaptive LIF, Izhikevich), rate neurons, surrogate-gradient training,
synaptic plasticity and event-driven simulation, with Keras-, scikit-learn- and River-style
interfaces.
"""
from neuroplastic._core.checks import set_finite_checks
from neuroplastic._core.seed import seed_everything
from neuroplastic._version import __version__
from neuroplastic.encoding import (
    ConstantEncoder,
    LatencyEncoder,
    PopulationEncoder,
    RateEncoder,
)
from neuroplastic.streaming import SpikingAnomalyDetector, SpikingForecaster, evaluate_prequential
from neuroplastic.network import NetState, Network, Sequential, SpikeMonitor, StateMonitor
from neuroplastic.neurons import (
    ALIF,
    LI,
    LIF,
    ALIFCell,
    Izhikevich,
    IzhikevichCell,
    LICell,
    LIFCell,
    Rate,
    Surrogate,
)
from neuroplastic.synapses import Conv2d, Dense, Flatten, MaxPool2d, RecurrentLIF
from neuroplastic.compress import EnergyModel, profile, prune_magnitude, quantize_weights
from neuroplastic.conversion import convert
from neuroplastic.io import load, save
from neuroplastic.plasticity import (
    BCM,
    KWTA,
    RSTDP,
    STDP,
    AdaptiveThreshold,
    Hebb,
    KrotovHopfield,
    LateralInhibition,
    Oja,
    Plastic,
    SeedHebb,
    SoftHebb,
    SoftWTA,
    SynapticScaling,
    TripletSTDP,
    available_rules,
    get_rule,
)
from neuroplastic.training import (
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    Model,
    ModelCheckpoint,
    TensorBoard,
    WandbCallback,
    build_model,
)
from neuroplastic.training.augment import Augment
from neuroplastic.training.silence import SilenceWarning
from neuroplastic.interop import from_nir, to_nir, to_onnx

__all__ = [
    "Augment", "SilenceWarning", "from_nir", "to_nir", "to_onnx",
    "DiehlCook", "HebbianNetwork", "HybridClassifier",
    "CSVLogger", "EarlyStopping", "History", "LambdaCallback", "ModelCheckpoint", "TensorBoard", "WandbCallback",
    "EnergyModel", "SpikingAnomalyDetector", "SpikingForecaster", "compress", "evaluate_prequential", "profile",
    "prune_magnitude", "quantize_weights", "robustness",
    "BCM", "KWTA", "RSTDP", "STDP", "AdaptiveThreshold", "Hebb", "KrotovHopfield", "LateralInhibition",
    "Oja", "Plastic", "SeedHebb", "SoftHebb", "SoftWTA", "SynapticScaling", "TripletSTDP",
    "available_rules", "get_rule",
    "ALIF", "ALIFCell", "ConstantEncoder", "convert", "Conv2d", "Dense", "Flatten", "Izhikevich",
    "IzhikevichCell", "LI", "LICell", "LIF", "LIFCell", "LatencyEncoder", "MLPClassifier",
    "MaxPool2d", "Model", "NetState", "Network", "PopulationEncoder", "Rate", "RateEncoder", "RecurrentLIF",
    "SNNClassifier", "Sequential", "SpikeMonitor", "StateMonitor", "Surrogate", "__version__", "build_model", "load", "save",
    "seed_everything", "set_finite_checks", "models",
]


#: Loaded on first use: the scikit-learn estimators of ``neuroplastic.models`` (and ``robustness``)
#: import scikit-learn, about 2 s that ``import neuroplastic`` and ``neuroplastic --help`` need not pay.
_LAZY = {
    "SNNClassifier": "neuroplastic.models", "MLPClassifier": "neuroplastic.models",
    "DiehlCook": "neuroplastic.models", "HebbianNetwork": "neuroplastic.models",
    "HybridClassifier": "neuroplastic.models", "models": None, "robustness": None,
}



def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module = _LAZY[name]
        if module is None:
            return importlib.import_module(f"neuroplastic.{name}")
        return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module 'neuroplastic' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
