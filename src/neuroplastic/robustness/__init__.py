"""Robustness of brain-inspired vs backprop networks: input noise and dropout, synapse lesions,
neuron death, and concept drift with recovery by online plasticity.

Entry points: :func:`robustness_report` (+ :func:`plot_robustness`) and :func:`drift_experiment`
(+ :func:`plot_drift`).
"""
from neuroplastic.robustness.drift import PrototypeNetwork, drift_experiment, drift_stream, plot_drift
from neuroplastic.robustness.perturb import (
    accuracy,
    add_noise,
    drop_features,
    hidden_neuron_layers,
    lesion_synapses,
    module_of,
    predict_labels,
    silence_neurons,
    synaptic_layers,
)
from neuroplastic.robustness.report import DEFAULT_LEVELS, plot_robustness, robustness_report

__all__ = [
    "DEFAULT_LEVELS", "PrototypeNetwork", "accuracy", "add_noise", "drift_experiment", "drift_stream",
    "drop_features", "hidden_neuron_layers", "lesion_synapses", "module_of", "plot_drift", "plot_robustness",
    "predict_labels", "robustness_report", "silence_neurons", "synaptic_layers",
]
