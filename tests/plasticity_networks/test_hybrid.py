"""Hybrid: Hebbian-pretrained first layer, then BPTT of the whole spiking network (smoke + wiring)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroplastic.plasticity.networks import HybridClassifier


def test_hybrid_smoke_learns_digits(digits) -> None:
    x, y = digits.x_train[:400], digits.y_train[:400]
    clf = HybridClassifier(n_hidden=32, hebb_epochs=2, finetune_epochs=15, batch_size=32, random_state=0).fit(x, y)
    assert clf.score(digits.x_test, digits.y_test) > 0.7   # smoke: ~0.80 (random init: 0.91)
    proba = clf.predict_proba(digits.x_test[:10])
    assert proba.shape == (10, 10) and np.allclose(proba.sum(1), 1.0, atol=1e-5)
    assert clf.transform(x[:4]).shape == (4, 32)
    clf.partial_fit(digits.x_train[400:500], digits.y_train[400:500])


def test_first_layer_starts_from_centred_hebbian_prototypes(digits) -> None:
    x, y = digits.x_train[:200], digits.y_train[:200]
    clf = HybridClassifier(n_hidden=16, hebb_epochs=1, finetune_epochs=0, random_state=0).fit(x, y)
    first = clf.model_.module[1].weight.detach()
    hebb = clf.hebbian_.weight.detach()
    centred = hebb - hebb.mean(0, keepdim=True)
    ratio = first / centred                                       # one positive gain for every weight
    assert torch.allclose(ratio, ratio.flatten()[0].expand_as(ratio), rtol=1e-3) and ratio.flatten()[0] > 0
    z = torch.as_tensor(clf._z(x))
    u = z @ first.T + clf.model_.module[1].bias.detach()
    assert abs(float(u.std()) - 1.0) < 1e-3 and float(u.mean(0).abs().max()) < 1e-4   # unit spread, centred


def test_frozen_hebbian_layer_does_not_move(digits) -> None:
    x, y = digits.x_train[:200], digits.y_train[:200]
    clf = HybridClassifier(n_hidden=16, hebb_epochs=1, finetune_epochs=0, freeze_hebbian=True, random_state=0).fit(x, y)
    before = clf.model_.module[1].weight.detach().clone()
    clf.partial_fit(x, y)
    assert torch.equal(before, clf.model_.module[1].weight.detach())


@pytest.mark.parametrize("kw, match", [
    (dict(n_hidden=0), "n_hidden"), (dict(finetune_epochs=-1), "finetune_epochs"),
    (dict(learning_rate=0.0), "learning_rate"), (dict(num_steps=1.5), "num_steps"),
])
def test_bad_settings_name_the_fix(kw: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        HybridClassifier(**kw).fit(np.random.default_rng(0).random((20, 8)), np.arange(20) % 2)
