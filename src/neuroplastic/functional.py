"""Every pure step function and functional encoder in one namespace."""
from neuroplastic.encoding import (
    decode_membrane,
    delta_encode,
    delta_step,
    first_spike_time,
    latency_encode,
    poisson_encode,
    population_encode,
    rate_encode,
    spike_count,
    spike_rate,
)
from neuroplastic.plasticity import (
    apply_update,
    kwta,
    lateral_inhibition,
    normalize_weights,
    soft_wta,
    trace_step,
    unfold_conv,
)
from neuroplastic.neurons import (
    alif_init,
    alif_step,
    cuba_lif_init,
    cuba_lif_step,
    izhikevich_init,
    izhikevich_step,
    li_init,
    li_step,
    lif_init,
    lif_step,
    rate_step,
    spike_fn,
)

__all__ = [
    "apply_update", "kwta", "lateral_inhibition", "normalize_weights", "soft_wta", "trace_step", "unfold_conv",
    "alif_init", "alif_step", "cuba_lif_init", "cuba_lif_step", "decode_membrane", "delta_encode", "delta_step", "first_spike_time",
    "izhikevich_init", "izhikevich_step", "latency_encode", "li_init", "li_step", "lif_init",
    "lif_step", "poisson_encode", "population_encode", "rate_encode", "rate_step", "spike_count",
    "spike_fn", "spike_rate",
]
