"""Pruning: which weights go, masks that survive training and checkpoints, sparse storage."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from neuroplastic import LIF, Dense, Sequential, io
from neuroplastic.compress import (
    TurnoverCallback,
    from_sparse,
    load_pruned_state_dict,
    masks,
    prune_magnitude,
    prune_regrow,
    prune_structured,
    remove_masks,
    sparsity,
    to_sparse,
)
from neuroplastic.training import Model, build_model


def _net(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3))


def test_layerwise_magnitude_removes_exactly_the_smallest():
    net = _net()
    w0 = [net[0].weight.detach().clone(), net[2].weight.detach().clone()]
    out = prune_magnitude(net, 0.5)
    for w, layer in zip(w0, (net[0], net[2])):
        k = round(0.5 * w.numel())
        dropped = layer.weight.detach() == 0
        assert int(dropped.sum()) == k
        # every dropped |w| <= every kept |w|
        assert w.abs()[dropped].max() <= w.abs()[~dropped].min()
    assert out == {"0.weight": 0.5, "2.weight": 0.5}


def test_global_magnitude_uses_one_threshold():
    net = _net()
    w = torch.cat([net[0].weight.detach().reshape(-1), net[2].weight.detach().reshape(-1)]).abs()
    prune_magnitude(net, 0.7, scope="global")
    kept = torch.cat([net[0].weight.detach().reshape(-1), net[2].weight.detach().reshape(-1)]) != 0
    assert int((~kept).sum()) == round(0.7 * w.numel())
    assert w[~kept].max() <= w[kept].min()
    assert sparsity(net) == pytest.approx(round(0.7 * w.numel()) / w.numel())


def test_repeated_pruning_is_cumulative():
    net = _net()
    prune_magnitude(net, 0.5)
    first = masks(net)["0.weight"].clone()
    prune_magnitude(net, 0.8)
    assert not bool((masks(net)["0.weight"] & ~first).any())   # nothing pruned comes back
    assert int((~masks(net)["0.weight"]).sum()) == round(0.8 * 48)


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5, float("nan")])
def test_sparsity_outside_unit_interval_is_an_error(bad):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        prune_magnitude(_net(), bad)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        prune_structured(_net(), bad)


@pytest.mark.parametrize("opt", [
    lambda p: torch.optim.SGD(p, lr=0.5, momentum=0.9),
    lambda p: torch.optim.Adam(p, lr=0.1, weight_decay=0.1),
    lambda p: torch.optim.AdamW(p, lr=0.1),
])
def test_masked_weights_stay_exactly_zero_after_optimizer_steps(opt):
    net = _net()
    prune_magnitude(net, 0.6)
    optimizer = opt(net.parameters())   # built after pruning: still enforced
    x, y = torch.randn(16, 8), torch.randint(0, 3, (16,))
    for _ in range(5):
        optimizer.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        assert bool((net[0].weight.grad[~masks(net)["0.weight"]] != 0).any())   # gradients are dense
        optimizer.step()
        for name, m in masks(net).items():
            layer = net[int(name.split(".")[0])]
            assert bool((layer.weight[~m] == 0).all())
    assert sparsity(net) == pytest.approx(0.6, abs=0.02)


def test_in_place_edits_are_masked_before_the_next_forward():
    net = _net()
    prune_magnitude(net, 0.5)
    with torch.no_grad():
        net[0].weight.add_(1.0)            # e.g. an in-place plasticity update
    net(torch.randn(1, 8))
    assert bool((net[0].weight[~masks(net)["0.weight"]] == 0).all())


def test_deepcopy_keeps_masks_enforced():
    net = _net()
    prune_magnitude(net, 0.5)
    twin = copy.deepcopy(net)
    twin(torch.randn(1, 8))
    opt = torch.optim.SGD(twin.parameters(), lr=1.0)
    twin(torch.randn(4, 8)).sum().backward()
    opt.step()
    assert bool((twin[0].weight[~masks(twin)["0.weight"]] == 0).all())


def test_structured_pruning_removes_lowest_norm_neurons():
    torch.manual_seed(0)
    net = Sequential(Dense(5, 6), LIF(), Dense(6, 2))
    norms = net[0].weight.detach().norm(dim=1)
    removed = prune_structured(net, 0.5)
    assert list(removed) == ["0"]                                    # output layer kept
    expect = sorted(torch.argsort(norms)[:3].tolist())
    assert removed["0"] == expect
    assert bool((net[0].weight[expect] == 0).all()) and bool((net[0].bias[expect] == 0).all())
    spikes, _ = net[:2](torch.rand(20, 4, 5) * 5)
    assert float(spikes[..., expect].detach().sum()) == 0.0                  # removed neurons never fire


def test_regrow_keeps_count_and_drops_the_weakest():
    net = _net()
    prune_magnitude(net, 0.5)
    before = masks(net)["0.weight"].clone()
    w = net[0].weight.detach().clone()
    moved = prune_regrow(net, 0.25, generator=torch.Generator().manual_seed(0))
    after = masks(net)["0.weight"]
    k = moved["0"]
    assert k == round(0.25 * 24) and int(after.sum()) == int(before.sum())
    dropped = before & ~after
    grown = after & ~before
    assert int(dropped.sum()) == k and int(grown.sum()) == k
    active_abs = w.abs()[before]
    assert w.abs()[dropped].max() <= torch.sort(active_abs).values[k]   # the k weakest went
    assert bool((net[0].weight[grown] == 0).all())                      # regrown at zero


def test_gradient_regrowth_picks_largest_gradients():
    net = _net()
    prune_magnitude(net, 0.5)
    with pytest.raises(ValueError, match="backward"):
        prune_regrow(net, 0.2, mode="gradient")
    nn.functional.cross_entropy(net(torch.randn(32, 8)), torch.randint(0, 3, (32,))).backward()
    before = masks(net)["0.weight"].clone()
    g = net[0].weight.grad.abs()
    prune_regrow(net, 0.2, mode="gradient", layers=["0"])
    grown = masks(net)["0.weight"] & ~before
    k = int(grown.sum())
    assert k == round(0.2 * 24)
    assert g[grown].min() >= torch.sort(g[~before], descending=True).values[k - 1]


def test_random_regrowth_is_deterministic_under_a_seed():
    a, b = _net(), _net()
    for n in (a, b):
        prune_magnitude(n, 0.5)
        prune_regrow(n, 0.3, generator=torch.Generator().manual_seed(3))
    assert torch.equal(masks(a)["0.weight"], masks(b)["0.weight"])


def _digits_like(n: int = 64):
    rng = np.random.default_rng(0)
    x = rng.random((n, 8)).astype("float32")
    y = (x[:, 0] > 0.5).astype("int64")
    return x, y


def test_masks_survive_model_fit_and_checkpoint_round_trip(tmp_path):
    model = build_model("mlp_wide", n_in=8, n_out=2, hidden=[16], device="cpu", seed=0)
    prune_magnitude(model, 0.8)
    x, y = _digits_like()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=0)
    assert sparsity(model) == pytest.approx(0.8, abs=0.01)
    model.save(tmp_path / "ckpt")
    loaded = Model.load(tmp_path / "ckpt")
    for k, m in masks(model).items():
        assert torch.equal(masks(loaded)[k], m)
    assert np.array_equal(loaded.predict(x), model.predict(x))
    loaded.fit(x, y, epochs=1, batch_size=16, verbose=0, seed=1)   # new optimizer after loading
    for k, m in masks(loaded).items():
        layer = loaded.module.get_submodule(k.rsplit(".", 1)[0])
        assert bool((layer.weight[~m] == 0).all())


def test_plain_module_state_dict_round_trip():
    net = _net()
    prune_magnitude(net, 0.5)
    fresh = _net(seed=1)
    load_pruned_state_dict(fresh, net.state_dict())
    assert torch.equal(fresh[0].weight, net[0].weight) and torch.equal(masks(fresh)["0.weight"], masks(net)["0.weight"])


def test_sparse_storage_round_trip_and_size(tmp_path):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(200, 100), nn.ReLU(), nn.Linear(100, 10))
    prune_magnitude(net, 0.9)
    packed = to_sparse(net)
    assert packed.nbytes < 0.2 * packed.dense_nbytes
    io.save(packed, tmp_path / "sp")
    back = io.load(tmp_path / "sp")
    fresh = nn.Sequential(nn.Linear(200, 100), nn.ReLU(), nn.Linear(100, 10))
    from_sparse(back, fresh)
    for a, b in zip(net.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)
    opt = torch.optim.SGD(fresh.parameters(), lr=1.0)
    fresh(torch.randn(2, 200)).sum().backward()
    opt.step()
    assert sparsity(fresh) == pytest.approx(0.9, abs=1e-3)


def test_remove_masks_makes_pruning_permanent():
    net = _net()
    prune_magnitude(net, 0.5)
    remove_masks(net)
    assert masks(net) == {} and sparsity(net) == pytest.approx(0.5, abs=0.02)
    assert "0.weight_mask" not in net.state_dict()


def test_turnover_callback_keeps_sparsity_during_fit():
    model = build_model("mlp_wide", n_in=8, n_out=2, hidden=[16], device="cpu", seed=0)
    prune_magnitude(model, 0.8)
    before = masks(model)["0.linear.weight"].clone()
    cb = TurnoverCallback(fraction=0.3, every=2, seed=0)
    x, y = _digits_like()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, seed=0, callbacks=[cb])
    after = masks(model)["0.linear.weight"]
    assert cb.events and int(after.sum()) == int(before.sum()) and not torch.equal(after, before)
    assert math.isclose(float((~after).float().mean()), 0.8, abs_tol=0.01)
    assert sparsity(model) >= 0.79       # regrown synapses start at zero
