"""Causal stream encoders: moved to :mod:`neuroplastic.encoding.stream` (this path keeps working).

The classes are registered here under their 0.1.0 names so that 0.1.0 stream checkpoints, which
name them, still load.
"""
from neuroplastic.encoding.stream import (
    DeltaCoder,
    RunningQuantile,
    RunningStats,
    StreamEncoder,
    StreamEncoderConfig,
    population_code,
    time_features,
)
from neuroplastic.streaming._state_io import register_state_class

for _name, _cls in (("RunningStats", RunningStats), ("RunningQuantile", RunningQuantile), ("DeltaCoder", DeltaCoder)):
    register_state_class(_name)(_cls)

__all__ = [
    "DeltaCoder",
    "RunningQuantile",
    "RunningStats",
    "StreamEncoder",
    "StreamEncoderConfig",
    "population_code",
    "time_features",
]
