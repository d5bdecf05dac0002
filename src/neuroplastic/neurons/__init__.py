"""Neuron models: each a pure step function, a ``*Cell`` (one step) and a sequence module."""
from neuroplastic.neurons.alif import ALIF, ALIFCell, ALIFParams, ALIFState, alif_init, alif_step
from neuroplastic.neurons.cuba_lif import (
    CubaLIF,
    CubaLIFCell,
    CubaLIFConstants,
    CubaLIFParams,
    CubaLIFState,
    cuba_lif_init,
    cuba_lif_integrate,
    cuba_lif_step,
)
from neuroplastic.neurons.izhikevich import (
    PRESETS as IZHIKEVICH_PRESETS,
    Izhikevich,
    IzhikevichCell,
    IzhikevichParams,
    IzhikevichState,
    izhikevich_init,
    izhikevich_step,
)
from neuroplastic.neurons.integrate_fire import IF, IFCell, IFParams, IFState, if_init, if_step
from neuroplastic.neurons.li import LI, LICell, LIParams, LIState, li_init, li_step
from neuroplastic.neurons.lif import LIF, LIFCell, LIFParams, LIFState, lif_init, lif_step
from neuroplastic.neurons.rate import ACTIVATIONS, Rate, rate_step
from neuroplastic.neurons.surrogate import SURROGATES, Surrogate, spike_fn

__all__ = [
    "ACTIVATIONS", "ALIF", "IF", "IFCell", "IFParams", "IFState", "if_init", "if_step", "ALIFCell", "ALIFParams", "ALIFState", "IZHIKEVICH_PRESETS", "Izhikevich",
    "IzhikevichCell", "IzhikevichParams", "IzhikevichState", "LI", "LICell", "LIF", "LIFCell",
    "LIFParams", "LIFState", "LIParams", "LIState", "Rate", "SURROGATES", "Surrogate", "alif_init",
    "alif_step", "izhikevich_init", "izhikevich_step", "li_init", "li_step", "lif_init", "lif_step",
    "rate_step", "spike_fn",
]
