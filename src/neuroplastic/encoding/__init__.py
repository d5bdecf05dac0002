"""Encoders (analog -> spikes) and decoders (spikes/membrane -> scores)."""
from neuroplastic.encoding.decoding import decode_membrane, first_spike_time, spike_count, spike_rate
from neuroplastic.encoding.audio import AudioEncoder, LogMelConfig, log_mel, mel_filterbank, pad_batch, spike_encode
from neuroplastic.encoding.delta import DeltaState, delta_encode, delta_step
from neuroplastic.encoding.latency import LatencyEncoder, latency_encode, latency_times
from neuroplastic.encoding.population import PopulationEncoder, population_encode
from neuroplastic.encoding.rate import ConstantEncoder, RateEncoder, poisson_encode, rate_encode
from neuroplastic.encoding.stream import (
    DeltaCoder,
    RunningQuantile,
    RunningStats,
    StreamEncoder,
    StreamEncoderConfig,
    population_code,
    time_features,
)

__all__ = [
    "AudioEncoder", "LogMelConfig", "log_mel", "mel_filterbank", "pad_batch", "spike_encode",
    "ConstantEncoder", "DeltaState", "LatencyEncoder", "PopulationEncoder", "RateEncoder",
    "decode_membrane", "delta_encode", "delta_step", "first_spike_time", "latency_encode",
    "latency_times", "poisson_encode", "population_encode", "rate_encode", "spike_count",
    "spike_rate",
    # causal stream encoders (numpy, one point at a time)
    "DeltaCoder", "RunningQuantile", "RunningStats", "StreamEncoder", "StreamEncoderConfig", "population_code",
    "time_features",
]
