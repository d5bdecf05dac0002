"""Model exchange: NIR (``to_nir`` / ``from_nir``) and ONNX (``to_onnx``).

The formats' packages are optional and imported when a function runs:
``pip install neuroplastic[nir]`` for NIR, ``pip install neuroplastic[onnx]`` for ONNX.
"""
from neuroplastic.interop._layers import Conv1d, FlattenDims, Scale, SumPool2d
from neuroplastic.interop.nir_export import to_nir, write_nir
from neuroplastic.interop.nir_import import from_nir
from neuroplastic.interop.onnx_export import reference_backends, to_onnx

__all__ = ["Conv1d", "FlattenDims", "Scale", "SumPool2d", "from_nir", "reference_backends", "to_nir", "to_onnx",
           "write_nir"]
