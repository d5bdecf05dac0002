"""Golden test: checkpoints written by neuroplastic 0.1.0 (commit 1f40df9) still load and predict identically.

The fixtures in ``fixtures/v0_1_0/`` were written by ``fixtures/make_v0_1_0.py`` running the
released code; the expected outputs beside them are what 0.1.0 produced.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import neuroplastic as npl

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "v0_1_0"
CASES = ["snn_classifier", "mlp_classifier", "hebbian_network", "model_snn"]


def test_provenance_is_the_release() -> None:
    prov = json.loads((FIXTURES / "PROVENANCE.json").read_text())
    assert prov["neuroplastic"] == "0.1.0"
    assert prov["commit"].startswith("1f40df9")


@pytest.mark.parametrize("name", CASES)
def test_v0_1_0_checkpoint_predicts_identically(name: str) -> None:
    x = np.load(FIXTURES / f"{name}.inputs.npy", allow_pickle=False)
    expected = np.load(FIXTURES / f"{name}.expected.npz", allow_pickle=False)
    obj = npl.load(FIXTURES / name)
    torch.manual_seed(123)  # prediction must not depend on the global RNG (dropout off in eval)
    inputs = torch.from_numpy(x) if name == "model_snn" else x
    np.testing.assert_array_equal(np.asarray(obj.predict(inputs)), expected["predict"])
    proba = np.asarray(obj.predict_proba(inputs), dtype=np.float64)
    assert proba.shape == expected["proba"].shape
    assert np.max(np.abs(proba - expected["proba"])) <= 1e-6
    if "decision" in expected:
        dec = np.asarray(obj.decision_function(inputs), dtype=np.float64)
        assert np.max(np.abs(dec - expected["decision"])) <= 1e-6
