"""Networks trained by plasticity, with scikit-learn interfaces.

* :class:`DiehlCook`: Diehl & Cook (2015) spiking winner-take-all network, STDP + adaptive
  thresholds + lateral inhibition, read out by label assignment (fused C presentation on CPU).
* :class:`HebbianNetwork`: competitive Hebbian feature layers (SoftHebb convolutions or
  SoftHebb / Krotov-Hopfield dense layers) + softmax readout trained by gradient.
* :class:`HybridClassifier`: Hebbian-pretrained first layer of a spiking network, then the whole
  network fine-tuned with surrogate gradients (BPTT).
* Readout helpers: :func:`assign_labels`, :func:`assignment_scores`, :func:`one_hot_winners`,
  :func:`kmeans_label_accuracy` (the k-means baseline of a winner-take-all layer),
  :func:`train_linear_readout`.

All estimators: ``fit(X, y)``, ``partial_fit(X, y, classes=None)``, ``predict``,
``predict_proba``, ``transform`` (the learned representation), ``score``.
"""
from neuroplastic.plasticity.networks._dc_engine import (
    DiehlCookParams,
    DiehlCookState,
    diehl_cook_init,
    diehl_cook_step,
    poisson_spikes,
)
from neuroplastic.plasticity.networks._hebb_layers import HebbianConv2d, HebbianDense, triangle
from neuroplastic.plasticity.networks.diehl_cook import DiehlCook
from neuroplastic.plasticity.networks.hebbian import HebbianNetwork
from neuroplastic.plasticity.networks.hybrid import HybridClassifier
from neuroplastic.plasticity.networks.readout import (
    assign_labels,
    assignment_scores,
    kmeans_label_accuracy,
    one_hot_winners,
    train_linear_readout,
)

__all__ = [
    "DiehlCook", "DiehlCookParams", "DiehlCookState", "HebbianConv2d", "HebbianDense", "HebbianNetwork",
    "HybridClassifier", "assign_labels", "assignment_scores", "diehl_cook_init", "diehl_cook_step",
    "kmeans_label_accuracy", "one_hot_winners", "poisson_spikes", "train_linear_readout", "triangle",
]
