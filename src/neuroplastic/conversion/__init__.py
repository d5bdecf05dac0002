"""ANN-to-SNN conversion: :func:`convert` turns a trained ReLU network into a spiking one."""
from neuroplastic.conversion.ann2snn import SUPPORTED_LAYERS, ConversionError, MaxPoolGate, convert

__all__ = ["SUPPORTED_LAYERS", "ConversionError", "MaxPoolGate", "convert"]
