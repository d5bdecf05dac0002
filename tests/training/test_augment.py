"""Augmentation transforms against hand-made references; reproducible under a seed."""
import numpy as np
import pytest
import torch

from neuroplastic.training.augment import Augment, GaussianNoise, RandomRotation, RandomShift, TimeShift


def _shift_ref(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Shift down by dy and right by dx with zero fill (a plain loop over pixels)."""
    out = np.zeros_like(img)
    h, w = img.shape[-2:]
    for r in range(h):
        for c in range(w):
            if 0 <= r - dy < h and 0 <= c - dx < w:
                out[..., r, c] = img[..., r - dy, c - dx]
    return out


def test_shift_matches_a_pixel_loop_for_flat_rows():
    x = torch.arange(3 * 64, dtype=torch.float32).reshape(3, 64)
    params = torch.tensor([[1, -2], [0, 0], [-3, 2]])
    got = RandomShift(3, image_shape=(8, 8)).apply(x, params)
    assert got.shape == x.shape
    for i, (dy, dx) in enumerate(params.tolist()):
        assert np.array_equal(got[i].reshape(8, 8).numpy(), _shift_ref(x[i].reshape(8, 8).numpy(), dy, dx))


def test_rotation_by_90_degrees_equals_rot90_and_0_is_identity():
    img = torch.randn(2, 3, 6, 6)
    r = RandomRotation(90).apply(img, torch.tensor([90.0, -90.0], dtype=torch.float64))
    assert torch.allclose(r[0], torch.rot90(img[0], 1, (1, 2)), atol=1e-5)   # counter-clockwise on screen
    assert torch.allclose(r[1], torch.rot90(img[1], -1, (1, 2)), atol=1e-5)
    same = RandomRotation(10).apply(img, torch.zeros(2, dtype=torch.float64))
    assert torch.allclose(same, img, atol=1e-5)


def test_time_shift_delays_and_advances_with_zero_fill():
    x = torch.arange(1, 7, dtype=torch.float32).reshape(1, 6, 1).repeat(3, 1, 1)
    got = TimeShift(2).apply(x, torch.tensor([2, -1, 0]))
    assert got[0, :, 0].tolist() == [0, 0, 1, 2, 3, 4]
    assert got[1, :, 0].tolist() == [2, 3, 4, 5, 6, 0]
    assert torch.equal(got[2], x[2])


def test_noise_has_the_asked_spread():
    x = torch.zeros(200, 50)
    y = GaussianNoise(0.5)(x, torch.Generator().manual_seed(0))
    assert abs(float(y.std()) - 0.5) < 0.02 and abs(float(y.mean())) < 0.02


def test_augment_is_reproducible_under_a_seed_and_differs_across_seeds():
    x = torch.rand(16, 64)
    def run(seed):
        a = Augment(RandomShift(2, image_shape=(8, 8)), RandomRotation(15, image_shape=(8, 8)), GaussianNoise(0.05),
                    seed=seed)
        return [a(x) for _ in range(3)]
    a, b, c = run(0), run(0), run(1)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not torch.equal(a[0], c[0])
    assert not torch.equal(a[0], a[1])          # each batch draws new parameters


def test_augment_state_round_trip_continues_the_same_sequence():
    x = torch.rand(4, 64)
    a = Augment(GaussianNoise(0.1), seed=3)
    a(x)
    state = a.state_dict()
    nxt = a(x)
    b = Augment(GaussianNoise(0.1), seed=99)
    b.load_state_dict(state)
    assert torch.equal(b(x), nxt)


def test_probability_zero_leaves_batches_alone():
    x = torch.rand(4, 64)
    assert torch.equal(Augment(GaussianNoise(1.0), p=0.0)(x), x)


@pytest.mark.parametrize("bad, match", [
    (lambda: RandomShift(1.5), "non-negative integer"),
    (lambda: RandomRotation(400), r"\[0, 180\]"),
    (lambda: RandomShift(1, image_shape=(8,)), "image_shape"),
    (lambda: Augment(), "at least one transform"),
    (lambda: Augment(3), "not a transform"),
    (lambda: Augment(GaussianNoise(0.1), p=2), "probability"),
    (lambda: RandomShift(1, image_shape=(5, 5)).apply(torch.zeros(2, 64), torch.zeros(2, 2, dtype=torch.long)),
     "holds 25 values"),
    (lambda: RandomShift(1).apply(torch.zeros(2, 64), torch.zeros(2, 2, dtype=torch.long)), "image_shape=\\(H, W\\)"),
    (lambda: TimeShift(1).apply(torch.zeros(3), torch.zeros(3, dtype=torch.long)), r"\[B, T"),
])
def test_bad_input_names_the_fix(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        bad()


def test_fit_applies_augment_to_training_batches_only_and_reproducibly():
    from neuroplastic.training import build_model

    rng = np.random.default_rng(0)
    x = rng.random((64, 64)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    seen = []

    class Spy:
        def __init__(self, inner):
            self.inner = inner

        def start_epoch(self, epoch):
            self.inner.start_epoch(epoch)

        def __call__(self, xb):
            out = self.inner(xb)
            seen.append(out.clone())
            return out

    def run():
        m = build_model("mlp_wide", n_in=64, n_out=3, hidden=[16], seed=0, device="cpu")
        m.fit(x, y, epochs=2, batch_size=32, seed=0, verbose=0, validation_split=0.25,
              augment=Spy(Augment(RandomShift(1, image_shape=(8, 8)), GaussianNoise(0.1), seed=5)))
        return m.get_weights()

    w1 = run()
    first = list(seen)
    assert len(first) == 4                      # 48 training rows / 32 = 2 batches x 2 epochs; no validation batch
    seen.clear()
    w2 = run()
    assert all(torch.equal(a, b) for a, b in zip(first, seen))
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    m = build_model("mlp_wide", n_in=64, n_out=3, hidden=[16], seed=0, device="cpu")
    m.fit(x, y, epochs=2, batch_size=32, seed=0, verbose=0, validation_split=0.25)
    assert any(not torch.equal(m.get_weights()[k], w1[k]) for k in w1)   # augmentation changed training


def test_augment_with_plastic_layers_and_bad_augment():
    import neuroplastic as npl

    x = np.random.default_rng(1).standard_normal((200, 4)).astype(np.float32)
    model = npl.Model(npl.Sequential(npl.Plastic(npl.Dense(4, 1, bias=False), "oja", lr=0.01)), device="cpu")
    model.fit(x, epochs=1, batch_size=10, verbose=0, augment=Augment(GaussianNoise(0.01), seed=0))
    assert torch.isfinite(next(model.module.parameters())).all()
    with pytest.raises(TypeError, match="augment must be"):
        model.fit(x, epochs=1, verbose=0, augment=3)
