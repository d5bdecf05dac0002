"""Every estimator of neuroplastic.models passes scikit-learn's estimator checks, is importable from
the package root, raises NotFittedError before fit, and sits on the one estimator base."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

import neuroplastic as npl
from neuroplastic.models import (
    DiehlCook,
    Estimator,
    EstimatorCheckpoint,
    HebbianNetwork,
    HybridClassifier,
    MLPClassifier,
    SNNClassifier,
)

# Small, short settings so the whole suite runs in a few minutes on one core; each still has to
# reach the checks' training accuracy (> 0.83 on three standardised blobs).
CHECKED = [
    SNNClassifier(max_epochs=5, random_state=0, device="cpu"),
    MLPClassifier(architecture="wide", max_epochs=5, random_state=0, device="cpu"),
    HebbianNetwork(n_hidden=(16,), hebb_epochs=1, readout_epochs=20, random_state=0),
    DiehlCook(n_neurons=32, epochs=1, t_present=0.1, max_rate=1000.0, theta_plus=0.05, norm=1.0, max_retries=0,
              random_state=0),
    HybridClassifier(n_hidden=32, hebb_epochs=1, num_steps=4, finetune_epochs=15, learning_rate=1e-2, random_state=0,
                     device="cpu"),
]


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@parametrize_with_checks(CHECKED)
def test_sklearn_estimator_checks(estimator, check) -> None:
    check(estimator)


@pytest.mark.parametrize("name", ["SNNClassifier", "MLPClassifier", "HebbianNetwork", "DiehlCook", "HybridClassifier"])
def test_every_estimator_is_public_and_on_the_one_base(name: str) -> None:
    cls = getattr(npl, name)
    assert cls is getattr(npl.models, name)
    assert issubclass(cls, Estimator) and issubclass(cls, EstimatorCheckpoint)
    assert name in npl.__all__


@pytest.mark.parametrize("est", CHECKED, ids=lambda e: type(e).__name__)
def test_not_fitted_error_before_fit(est) -> None:
    X = np.zeros((3, 4))
    for method in ("predict", "predict_proba"):
        with pytest.raises(NotFittedError, match="fit"):
            getattr(est, method)(X)
    with pytest.raises(Exception, match="not fitted"):
        est.save("never-written")


def test_old_paths_still_resolve_with_a_deprecation_warning() -> None:
    import neuroplastic.io.estimator as old_io
    import neuroplastic.plasticity.networks as old_networks
    import neuroplastic.training.sklearn as old_sklearn

    for module, name, cls in [(old_networks, "HebbianNetwork", HebbianNetwork), (old_networks, "DiehlCook", DiehlCook),
                              (old_networks, "HybridClassifier", HybridClassifier),
                              (old_sklearn, "SNNClassifier", SNNClassifier), (old_sklearn, "MLPClassifier", MLPClassifier),
                              (old_io, "EstimatorCheckpoint", EstimatorCheckpoint)]:
        with pytest.warns(DeprecationWarning, match=f"moved to neuroplastic.models.{name}"):
            assert getattr(module, name) is cls
    with pytest.raises(AttributeError):
        old_networks.NoSuchThing


def test_a_fresh_process_finds_the_estimators_of_old_checkpoints() -> None:
    """``neuroplastic.load`` imports ``neuroplastic.models`` itself to find a registered estimator
    class (0.1.0 names), without the caller importing it."""
    import subprocess
    import sys
    from pathlib import Path

    fixtures = Path(__file__).resolve().parents[1] / "io" / "fixtures" / "v0_1_0"
    code = ("import sys, neuroplastic as npl; "
            "print(*(type(npl.load(sys.argv[1] + '/' + n)).__module__ for n in ('hebbian_network', 'snn_classifier')))")
    out = subprocess.run([sys.executable, "-c", code, str(fixtures)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["neuroplastic.models.hebbian", "neuroplastic.models.snn"]
