"""Engines and layers of the networks trained by plasticity (the estimators are in :mod:`neuroplastic.models`).

* Diehl & Cook (2015) engine: :class:`DiehlCookParams`, :class:`DiehlCookState`,
  :func:`diehl_cook_step` / :func:`diehl_cook_init` (pure step), :func:`poisson_spikes`; the
  presentation of an image runs through the backend registry (fused C on CPU, reference loop).
* Hebbian feature layers: :class:`HebbianConv2d` (SoftHebb convolutions), :class:`HebbianDense`
  (SoftHebb / Krotov-Hopfield), :func:`triangle`; the rank-ordered (neural-gas) competition
  :func:`rank_competition_step` with :func:`rank_schedule`.
* Readout helpers: :func:`assign_labels`, :func:`assignment_scores`, :func:`one_hot_winners`,
  :func:`kmeans_label_accuracy` (the k-means baseline of a winner-take-all layer),
  :func:`train_linear_readout`.

Deprecated aliases: ``DiehlCook``, ``HebbianNetwork`` and ``HybridClassifier`` moved to
:mod:`neuroplastic.models` (import them from ``neuroplastic`` or ``neuroplastic.models``). They
still resolve here, with a ``DeprecationWarning``, through a module ``__getattr__`` that imports
``neuroplastic.models`` by name on first use (a package of this layer never imports ``models``).
"""
from __future__ import annotations

import warnings
from typing import Any

from neuroplastic.plasticity.networks._dc_engine import (
    DiehlCookParams,
    DiehlCookState,
    diehl_cook_init,
    diehl_cook_step,
    poisson_spikes,
)
from neuroplastic.plasticity.networks._hebb_layers import HebbianConv2d, HebbianDense, triangle
from neuroplastic.plasticity.networks.neural_gas import rank_competition_step, rank_schedule
from neuroplastic.plasticity.networks.readout import (
    assign_labels,
    assignment_scores,
    kmeans_label_accuracy,
    one_hot_winners,
    train_linear_readout,
)

__all__ = [
    "DiehlCookParams", "DiehlCookState", "HebbianConv2d", "HebbianDense", "assign_labels", "assignment_scores",
    "diehl_cook_init", "diehl_cook_step", "kmeans_label_accuracy", "one_hot_winners", "poisson_spikes",
    "rank_competition_step", "rank_schedule", "train_linear_readout", "triangle",
]

#: estimators that moved up to neuroplastic.models (resolved by name on first use, deprecated)
_MOVED = ("DiehlCook", "HebbianNetwork", "HybridClassifier")


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib

        warnings.warn(f"neuroplastic.plasticity.networks.{name} moved to neuroplastic.models.{name}: import it from "
                      "neuroplastic or neuroplastic.models", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module("neuroplastic.models"), name)
    raise AttributeError(f"module 'neuroplastic.plasticity.networks' has no attribute {name!r}")
