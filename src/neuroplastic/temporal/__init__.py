"""Temporal models: recurrent adaptive-LIF networks with learnable time constants and
thresholds, trained by surrogate-gradient BPTT on padded, masked time-first batches, and
synaptic delays (fixed per synapse, or learnable by a DCLS-style continuous relaxation)."""
from neuroplastic.temporal.alif import ALIFParameters, ALIFTensors, alif_tensor_step, inverse_softplus
from neuroplastic.temporal.delays import DelayedDense, LearnableDelayDense, delay_shift, delayed_linear
from neuroplastic.temporal.rsnn import READOUTS, RSNN, RSNNOutput, alif_recurrent_reference, masked_mean

__all__ = [
    "ALIFParameters", "ALIFTensors", "DelayedDense", "LearnableDelayDense", "READOUTS", "RSNN", "RSNNOutput",
    "alif_recurrent_reference", "alif_tensor_step", "delay_shift", "delayed_linear", "inverse_softplus",
    "masked_mean",
]
