"""Fused kernels, each registered beside its pure-torch reference in the backend registry.

The backend registry imports this package on its first lookup (:func:`neuroplastic._core.registry.load_providers`); nothing here is needed by
user code directly. Models pick the best implementation through
:func:`neuroplastic._core.registry.get_backend`:

=================  ==============  ==============  ==========================================
operation          name            device          module
=================  ==============  ==============  ==========================================
``lif_sequence``   ``cpu_fused``   cpu (prio 10)   :mod:`.lif_cpu` (C via ctypes, torch fallback)
``alif_sequence``  ``cpu_fused``   cpu (prio 10)   :mod:`.lif_cpu`
``lif_sequence``   ``triton``      cuda (prio 20)  :mod:`.lif_triton` (needs Triton + CUDA)
``alif_sequence``  ``triton``      cuda (prio 20)  :mod:`.lif_triton`
``spike_linear``   ``cpu_event``   cpu (prio 10)   :mod:`.spike_linear` (event-driven, binary input)
``spike_linear``   ``cuda_bf16x3`` cuda (prio 10)  :mod:`.spike_linear` (exact bf16 split, tensor cores)
=================  ==============  ==============  ==========================================
"""
from neuroplastic.kernels import lif_cpu, lif_triton, spike_linear

__all__ = ["lif_cpu", "lif_triton", "spike_linear"]
