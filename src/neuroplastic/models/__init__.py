"""Models: estimators built from the library's public parts, one file per model.

All are scikit-learn classifiers on the one base :class:`Estimator` (validation, labels, seeds,
tags, ``NotFittedError``, safetensors + JSON checkpoints) and pass
``sklearn.utils.estimator_checks``:

* :class:`SNNClassifier`: spiking network trained by surrogate gradients (``learning=`` also
  delegates to the two plasticity models below);
* :class:`MLPClassifier`: the backprop baselines (founding and wide MLP);
* :class:`HebbianNetwork`: competitive Hebbian feature layers + softmax readout;
* :class:`DiehlCook`: Diehl & Cook (2015) STDP winner-take-all network, label-assignment readout;
* :class:`HybridClassifier`: Hebbian-pretrained spiking network fine-tuned with surrogate gradients.

They use ``neurons``, ``synapses``, ``plasticity`` (the engines and layers in
:mod:`neuroplastic.plasticity.networks`), ``training`` (``Model`` and the architectures) and ``io``.
Checkpoint names (``"neuroplastic.SNNClassifier"``, ``"neuroplastic.plasticity.HebbianNetwork"``,
...) are those of 0.1.0, so old checkpoints load.
"""
from neuroplastic.models._base import Estimator, TransformingEstimator, UnitRange, looks_like_image
from neuroplastic.models._checkpoint import EstimatorCheckpoint
from neuroplastic.models.diehl_cook import DiehlCook
from neuroplastic.models.hebbian import HebbianNetwork
from neuroplastic.models.hybrid import HybridClassifier
from neuroplastic.models.mlp import MLPClassifier
from neuroplastic.models.snn import SNNClassifier

__all__ = [
    "DiehlCook", "Estimator", "EstimatorCheckpoint", "HebbianNetwork", "HybridClassifier", "MLPClassifier",
    "SNNClassifier", "TransformingEstimator", "UnitRange", "looks_like_image",
]
