"""Dense winner-take-all layer: per-unit 1/win-count rate (online k-means) and the k-means bar.

The bug these tests pin down: with a constant SoftHebb rate (0.1, batch-averaged) a unit that wins
``n`` samples moves by about ``0.1 n / batch`` and, on high-dimensional standardised inputs, keeps
jittering around its fixed point; the dense layer's units stayed within cos 0.94 of the samples they
started on, and the layer read out no better than k-means (below it on digits).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroplastic.models import HebbianNetwork
from neuroplastic.plasticity.networks import kmeans_label_accuracy
from neuroplastic.plasticity.networks._hebb_layers import HebbianDense
from neuroplastic.plasticity.networks.neural_gas import rank_competition_step, rank_schedule


def _layer(n_in: int, n_out: int, **kw) -> HebbianDense:
    layer = HebbianDense(n_in, n_out, **kw)       # standardiser left at mean 0, std 1
    return layer


def test_count_rate_steps_by_hand() -> None:
    layer = _layer(3, 2, lr=1.0, temperature=1e-3, rate="count")
    w0 = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    with torch.no_grad():
        layer.weight.copy_(w0)
    layer.new_pass()
    layer.learn(torch.tensor([[3.0, 4.0, 0.0]]))          # u = (3, 4): unit 1 wins, direction (.6, .8, 0)
    # first win of unit 1: rate 1 / (1 + 1) = 1/2, dw = (x_hat - (w . x_hat) w) / 2
    w1 = w0[1] + 0.5 * (torch.tensor([0.6, 0.8, 0.0]) - 0.8 * w0[1])
    assert torch.allclose(layer.weight[1], w1, atol=1e-5) and torch.equal(layer.weight[0], w0[0])
    assert layer.win_mass.tolist() == pytest.approx([0.0, 1.0], abs=1e-6)
    layer.learn(torch.tensor([[0.0, 0.0, 2.0]]))          # u = (0, 0): a tie, the softmax splits it 1/2 - 1/2
    xh = torch.tensor([0.0, 0.0, 1.0])
    w0n = w0[0] + 0.5 / (1 + 0.5) * (xh - 0.0 * w0[0])     # unit 0: win mass 0.5, rate 1 / 1.5
    w1n = w1 + 0.5 / (1 + 1.5) * (xh - (w1 @ xh) * w1)     # unit 1: win mass 1.5, rate 1 / 2.5
    assert torch.allclose(layer.weight, torch.stack([w0n, w1n]), atol=1e-5)
    layer.new_pass()
    assert layer.win_mass.abs().sum() == 0


def _mixture(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """10 clusters in 200 dimensions, 40 samples each; a single sample has cos ~0.58 with its
    cluster's mean direction."""
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(10, 200, generator=g)
    y = torch.arange(10).repeat_interleave(40)
    x = mu[y] + 1.5 * torch.randn(400, 200, generator=g)
    xh = x / x.norm(dim=1, keepdim=True)
    target = torch.stack([xh[y == c].mean(0) for c in range(10)])
    return x, y, target / target.norm(dim=1, keepdim=True)


def _train(rate: str, lr: float, passes: int) -> torch.Tensor:
    x, y, _ = _mixture()
    layer = _layer(200, 10, lr=lr, rate=rate)
    with torch.no_grad():                                   # unit c starts on the first sample of cluster c
        layer.weight.copy_(x[torch.arange(10) * 40] / x[torch.arange(10) * 40].norm(dim=1, keepdim=True))
    g = torch.Generator().manual_seed(1)
    for _ in range(passes):
        layer.new_pass()
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 10):
            layer.learn(x[order[i:i + 10]])
    assert (x @ layer.weight.T).argmax(1).eq(y).all()        # each unit owns its cluster
    return layer.weight / layer.weight.norm(dim=1, keepdim=True)


def test_count_rate_units_converge_to_their_cluster_mean_direction() -> None:
    _, _, target = _mixture()
    cos_count = (_train("count", 1.0, 3) * target).sum(1)
    cos_const = (_train("constant", 0.1, 3) * target).sum(1)  # the layer before the fix
    assert cos_count.min() > 0.99                            # the fixed point: the mean of the won directions
    assert cos_const.max() < 0.96 < cos_count.min()          # a constant rate keeps jittering around it


def test_count_rate_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="rate must be"):
        HebbianDense(4, 2, rate="adaptive")
    with pytest.raises(ValueError, match="rule='softhebb'"):
        HebbianDense(4, 2, rule="krotov", rate="count")
    with pytest.raises(ValueError, match="hebb_rate"):
        HebbianNetwork(architecture="dense", hebb_rate="fast").fit(np.random.default_rng(0).random((12, 5)), np.arange(12) % 2)


def test_rank_step_with_a_vanishing_range_is_the_winner_only_update_by_hand() -> None:
    layer = _layer(3, 2)
    w0 = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    with torch.no_grad():
        layer.weight.copy_(w0)
    h = rank_competition_step(layer, torch.tensor([[3.0, 4.0, 0.0]]), neighbourhood=1e-3, rate=0.3)
    assert h.tolist() == [[0.0, 1.0]]                       # unit 1 responds most (0.8 > 0.6): the only one to learn
    w1 = w0[1] + 0.3 * (torch.tensor([0.6, 0.8, 0.0]) - 0.8 * w0[1])
    assert torch.allclose(layer.weight, torch.stack([w0[0], w1]), atol=1e-6)


def test_rank_step_weights_every_unit_by_its_rank() -> None:
    layer = _layer(2, 3)
    w0 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    with torch.no_grad():
        layer.weight.copy_(w0)
    xh = torch.tensor([0.8, 0.6])                            # responses 0.8, 0.6, -0.8: ranks 0, 1, 2
    h = rank_competition_step(layer, 5 * xh[None], neighbourhood=2.0, rate=0.5)
    hand_h = torch.exp(-torch.tensor([0.0, 1.0, 2.0]) / 2.0)
    assert torch.allclose(h[0], hand_h)
    u = w0 @ xh
    hand = w0 + 0.5 * hand_h[:, None] * (xh - u[:, None] * w0)   # one input: h <= 1, no batch normalisation
    assert torch.allclose(layer.weight, hand, atol=1e-6)
    with pytest.raises(ValueError, match="rate in"):
        rank_competition_step(layer, xh[None], neighbourhood=1.0, rate=2.0)
    assert rank_schedule(0.0, 10) == (5.0, 0.5) and rank_schedule(1.0, 10) == pytest.approx((0.01, 0.05))


def _orthogonal_mixture(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """6 clusters on orthonormal directions in 30 dimensions, 50 samples each; the optimum codebook
    (on directions) is the clusters' mean directions."""
    g = torch.Generator().manual_seed(seed)
    mu = torch.linalg.qr(torch.randn(30, 6, generator=g))[0].T
    y = torch.arange(6).repeat_interleave(50)
    x = mu[y] + 0.15 * torch.randn(len(y), 30, generator=g)
    xh = x / x.norm(dim=1, keepdim=True)
    opt = torch.stack([xh[y == c].mean(0) for c in range(6)])
    return x, xh, opt / opt.norm(dim=1, keepdim=True)


def _distortion(w: torch.Tensor, xh: torch.Tensor) -> float:
    w = w / w.norm(dim=1, keepdim=True)
    return float((2 - 2 * (xh @ w.T).max(1).values).mean())     # mean min_k |x_hat - w_k|^2


def _lloyd(w: torch.Tensor, xh: torch.Tensor, iters: int = 50) -> torch.Tensor:
    """Spherical k-means (Lloyd), the independent reference."""
    w = w.clone()
    for _ in range(iters):
        win = (xh @ w.T).argmax(1)
        for j in range(len(w)):
            if (win == j).any():
                w[j] = xh[win == j].mean(0) / xh[win == j].mean(0).norm()
    return w


def test_rank_competition_escapes_a_bad_start_that_traps_kmeans() -> None:
    """All six units start on samples of one cluster. Rank-ordered competition (neural gas over the
    first half of the passes, then the layer's own rule) reaches the optimum codebook on every
    mixture; from the same start Lloyd's k-means and the winner-only layer stay trapped on some."""
    rank_d, lloyd_d, winner_d, opt_d = [], [], [], []
    for seed in range(5):
        x, xh, opt = _orthogonal_mixture(seed)
        opt_d.append(_distortion(opt, xh))
        lloyd_d.append(_distortion(_lloyd(xh[:6], xh), xh))
        for comp, out in (("rank", rank_d), ("winner", winner_d)):
            layer = _layer(30, 6, lr=1.0, temperature=1e-3, rate="count")
            with torch.no_grad():
                layer.weight.copy_(xh[:6])
            g, total, done = torch.Generator().manual_seed(1), 6 * len(x), 0
            for _ in range(6):
                layer.new_pass()
                order = torch.randperm(len(x), generator=g)
                for i in range(0, len(x), 10):
                    if comp == "rank" and done < total / 2:
                        rank_competition_step(layer, x[order[i:i + 10]], *rank_schedule(done / (total / 2), 6))
                    else:
                        layer.learn(x[order[i:i + 10]])
                    done += 10
            out.append(_distortion(layer.weight.detach(), xh))
    opt_d, rank_d = np.array(opt_d), np.array(rank_d)
    assert (rank_d <= opt_d + 0.005).all()                   # the optimum, every time
    assert (np.array(lloyd_d) > opt_d + 0.1).any() and (np.array(winner_d) > opt_d + 0.1).any()
    assert (rank_d <= np.array(lloyd_d) + 0.005).all()       # never worse than k-means from the same start


def test_rank_competition_settings_are_checked(digits) -> None:
    with pytest.raises(ValueError, match="hebb_competition must be"):
        HebbianNetwork(architecture="dense", hebb_competition="gas").fit(digits.x_train[:40], digits.y_train[:40])
    with pytest.raises(ValueError, match="architecture='dense'"):
        HebbianNetwork(architecture="conv", hebb_competition="rank").fit(digits.x_train[:40], digits.y_train[:40])
    with pytest.raises(ValueError, match="rule='softhebb'"):
        HebbianNetwork(architecture="dense", rule="krotov", hebb_competition="rank").fit(digits.x_train[:40],
                                                                                         digits.y_train[:40])


def test_dense_wta_layer_reads_out_at_kmeans_level_on_digits(digits) -> None:
    """64 winner-take-all units read out by label assignment against k-means with 64 clusters +
    label assignment and against the layer before the fix, mean over 3 seeds (test split; the
    defaults were chosen on a validation split of the training data).

    On digits the fixed layer is level with k-means, not above it (10 seeds: 94.6 +- 0.4 vs
    94.9 +- 0.3 %); it is an online k-means on input directions. The margin over k-means shows on
    MNIST (benchmarks/bench_plasticity.py --what dense_wta), too slow for a unit test. Over five
    validation splits of the training data it leads k-means by +0.35 +- 0.10 points; rank-ordered
    competition (neural gas), Euclidean competition and Lloyd refinement did not add to that.
    """
    x, y, xt, yt = digits.x_train, digits.y_train, digits.x_test, digits.y_test

    def la(**kw) -> list[float]:
        return [HebbianNetwork(architecture="dense", n_hidden=(64,), readout_epochs=1, random_state=s, **kw)
                .fit(x, y).label_assignment_score(x, y, xt, yt) for s in range(3)]

    hebb = la()
    before = la(hebb_rate="constant", hebb_init="random", hebb_epochs=3)
    km = [kmeans_label_accuracy(x, y, xt, yt, 64, seed=s)["test_accuracy"] for s in range(3)]
    assert np.mean(hebb) > np.mean(before)
    assert np.mean(hebb) > np.mean(km) - 0.01 and min(hebb) > 0.94


def test_population_code_in_front_of_a_dense_layer_by_hand():
    x = torch.tensor([[0.0, 10.0], [2.0, 10.0], [4.0, 40.0]])
    layer = HebbianDense(2, 3, standardise="feature", population=3)
    layer.fit_standardiser(x)
    z = (x - x.mean(0)) / x.std(0, correction=0)                       # z-scores, all within [-3, 3]
    centres = torch.tensor([-3.0, 0.0, 3.0])                           # 3 fields over [-3, 3], width 3
    fields = torch.exp(-(z.unsqueeze(-1) - centres) ** 2 / (2 * 3.0 ** 2)).flatten(1)
    sd = fields.std(0, correction=0)
    want = (fields - fields.mean(0)) / torch.where(sd > 1e-12, sd, torch.ones_like(sd))
    torch.testing.assert_close(layer.code(x), want)
    assert layer.weight.shape == (3, 6) and layer(x).shape == (3, 3)
    with pytest.raises(ValueError, match="receptive fields"):
        HebbianDense(2, 3, population=1)


def test_tables_get_the_population_code_and_images_do_not():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    table = HebbianNetwork(readout_epochs=1, random_state=0).fit(X, y)
    assert table.layers_[0].population == 6 and table.layers_[0].weight.shape[1] == 4 * 6
    off = HebbianNetwork(population=0, readout_epochs=1, random_state=0).fit(X, y)
    assert off.layers_[0].population == 0 and off.layers_[0].weight.shape[1] == 4
    from neuroplastic.datasets import load_split

    digits = load_split("digits")
    img = HebbianNetwork(architecture="dense", n_hidden=(16,), readout_epochs=1, random_state=0).fit(
        digits.x_train[:200], digits.y_train[:200])
    assert img.layers_[0].population == 0
