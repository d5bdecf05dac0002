"""Tile coding: hand-computed indices, bounds taken from the space, clear errors."""
import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")
import torch  # noqa: E402

from neuroplastic.rl.tiles import TileCoding, TileTables, tile_coding_for, tile_encode  # noqa: E402


def test_one_dimension_hand_computed():
    c = TileCoding(low=(0.0,), high=(1.0,), n_tilings=2, bins=2)   # 3 tiles per tiling, offsets 0 and 1/2 bin
    t = TileTables(c)
    assert c.offsets()[:, 0].tolist() == [0.0, 0.5]
    # x = 0.3 -> z = 0.6 bins: tiling 0 tile floor(0.6) = 0; tiling 1 floor(1.1) = 1 -> index 3 + 1
    assert tile_encode(np.array([0.3]), t).tolist() == [0, 4]
    assert tile_encode(np.array([0.8]), t).tolist() == [1, 5]      # z = 1.6: floor 1, floor 2.1 = 2 -> 3 + 2
    assert tile_encode(np.array([-5.0]), t).tolist() == [0, 3]     # clipped to low
    assert tile_encode(np.array([9.0]), t).tolist() == [2, 5]      # clipped to high


def test_two_dimensions_full_conjunction():
    c = TileCoding(low=(0.0, 0.0), high=(1.0, 1.0), n_tilings=1, bins=4)
    assert c.n_features == 25
    # z = (1.2, 3.6) -> tile (1, 3) -> 1 + 3 * 5
    assert tile_encode(np.array([0.3, 0.9]), TileTables(c)).tolist() == [16]


def test_population_properties():
    env = gym.make("CartPole-v1")
    c = tile_coding_for(env)
    assert (c.n_tilings, c.bins, c.n_features) == (16, 4, 16 * 5 ** 4)
    assert c.high == (2.4, 3.0, 0.21, 3.5)
    t = TileTables(c)
    rng = np.random.default_rng(0)
    for _ in range(50):
        idx = tile_encode(rng.uniform(-3, 3, 4), t)
        assert idx.shape == (16,) and idx.dtype == torch.int64
        assert int(idx.min()) >= 0 and int(idx.max()) < c.n_features
        assert torch.equal(idx // 625, torch.arange(16))        # one neuron per tiling
    near = tile_encode(np.array([0.0, 0.0, 0.0, 0.0]), t)
    close = tile_encode(np.array([0.01, 0.0, 0.0, 0.0]), t)
    far = tile_encode(np.array([2.0, 2.0, 0.2, -3.0]), t)
    assert len(set(near.tolist()) & set(close.tolist())) >= 12     # generalisation between neighbours
    assert not set(near.tolist()) & set(far.tolist())


def test_bounds_from_the_space_and_bins_lowered_for_many_dimensions():
    c = tile_coding_for(gym.make("Acrobot-v1"))
    space = gym.make("Acrobot-v1").observation_space
    assert c.low == tuple(float(v) for v in space.low) and c.high == tuple(float(v) for v in space.high)
    assert c.bins == 3 and c.tiles_per_tiling == 4 ** 6


def test_wrong_observation_length_names_the_fix():
    t = TileTables(TileCoding(low=(0.0, 0.0), high=(1.0, 1.0)))
    with pytest.raises(ValueError, match="observation space"):
        tile_encode(np.zeros(3), t)
    with pytest.raises(ValueError, match="not finite"):
        tile_encode(np.array([np.nan, 0.0]), t)
    with pytest.raises(ValueError, match="bounds="):
        TileCoding(low=(0.0, -np.inf), high=(1.0, np.inf))
