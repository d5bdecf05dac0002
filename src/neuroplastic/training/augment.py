"""Data augmentation applied on the fly in :meth:`Model.fit <neuroplastic.training.Model.fit>`, seeded.

``Model.fit(x, y, augment=Augment(RandomShift(2, image_shape=(8, 8)), RandomRotation(10), seed=0))``
transforms every *training* batch (never validation or evaluation batches) just before the
forward pass, so it works with every learning mode the loop runs: gradients, local rules of
``Plastic`` layers, or both. An :class:`Augment` draws from its own :class:`torch.Generator`,
so the same seed gives the same augmented batches whatever else uses the global RNG; ``fit``
reseeds it from ``(seed, epoch)`` at the start of every epoch (:meth:`Augment.start_epoch`), so
a run resumed from an epoch checkpoint augments exactly as the uninterrupted run did.

Each transform is a pair of pure functions: ``sample(batch, shape, generator) -> params`` draws
per-sample parameters and ``apply(x, params) -> x`` applies them, so a test (or a user) can apply
known parameters and compare with a reference.

Batches are sample-first as ``fit`` sees them: ``[B, features]`` (give ``image_shape`` to treat
flat rows as images), ``[B, H, W]``, ``[B, C, H, W]`` for images, ``[B, T, ...]`` for sequences.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from neuroplastic._core.checks import check_positive

__all__ = ["Augment", "GaussianNoise", "RandomRotation", "RandomShift", "TimeShift", "Transform"]


class Transform:
    """Base of the per-batch transforms: :meth:`sample` parameters, then :meth:`apply` them."""

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def apply(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.apply(x, self.sample(x, generator))

    def get_config(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(self).items()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


def _as_images(x: torch.Tensor, image_shape: tuple[int, ...] | None, who: str) -> tuple[torch.Tensor, torch.Size]:
    """View a batch as ``[B, C, H, W]``; returns the view and the original shape."""
    shape = x.shape
    if image_shape is not None:
        n = math.prod(image_shape)
        if x[0].numel() != n:
            raise ValueError(f"{who}: image_shape={tuple(image_shape)} holds {n} values but each sample has "
                             f"{x[0].numel()} ({tuple(shape[1:])}): give the shape of one sample")
        img = x.reshape(shape[0], *image_shape)
    else:
        img = x
    if img.dim() == 3:
        img = img.unsqueeze(1)
    if img.dim() != 4:
        raise ValueError(f"{who} needs images [B, H, W] or [B, C, H, W], got a batch of shape {tuple(shape)}: "
                         "for flat rows pass image_shape=(H, W) (e.g. (8, 8) for scikit-learn's digits)")
    return img, shape


def _shape_arg(image_shape: Sequence[int] | None) -> tuple[int, ...] | None:
    if image_shape is None:
        return None
    out = tuple(int(s) for s in image_shape)
    if len(out) not in (2, 3) or min(out) < 1:
        raise ValueError(f"image_shape must be (H, W) or (C, H, W) with positive sizes, got {image_shape!r}")
    return out


class RandomShift(Transform):
    """Shift each image by whole pixels, ``dy, dx`` uniform in ``[-max_shift, max_shift]``; zeros fill in.

    ``params``: ``[B, 2]`` integer shifts (rows down, columns right).
    """

    def __init__(self, max_shift: int = 2, image_shape: Sequence[int] | None = None) -> None:
        if int(max_shift) != max_shift or max_shift < 0:
            raise ValueError(f"max_shift must be a non-negative integer number of pixels, got {max_shift!r}")
        self.max_shift = int(max_shift)
        self.image_shape = _shape_arg(image_shape)

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return torch.randint(-self.max_shift, self.max_shift + 1, (x.shape[0], 2), generator=generator)

    def apply(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        img, shape = _as_images(x, self.image_shape, "RandomShift")
        h, w = img.shape[-2:]
        p = self.max_shift if params.numel() == 0 else max(self.max_shift, int(params.abs().max()))
        padded = F.pad(img, (p, p, p, p))
        out = torch.empty_like(img)
        for i, (dy, dx) in enumerate(params.tolist()):
            out[i] = padded[i, :, p - dy:p - dy + h, p - dx:p - dx + w]
        return out.reshape(shape)


class RandomRotation(Transform):
    """Rotate each image about its centre by an angle uniform in ``[-degrees, degrees]`` (bilinear, zeros outside).

    ``params``: ``[B]`` angles in degrees (counter-clockwise as displayed with row 0 on top).
    """

    def __init__(self, degrees: float = 10.0, image_shape: Sequence[int] | None = None) -> None:
        if not math.isfinite(float(degrees)) or degrees < 0 or degrees > 180:
            raise ValueError(f"degrees must be in [0, 180], got {degrees!r}")
        self.degrees = float(degrees)
        self.image_shape = _shape_arg(image_shape)

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return (torch.rand(x.shape[0], generator=generator, dtype=torch.float64) * 2 - 1) * self.degrees

    def apply(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        img, shape = _as_images(x, self.image_shape, "RandomRotation")
        if not img.is_floating_point():
            raise TypeError(f"RandomRotation needs floating-point images, got {img.dtype}")
        a = torch.deg2rad(params.to(torch.float64))
        cos, sin = torch.cos(a), torch.sin(a)
        h, w = img.shape[-2:]
        # output pixel (x_o, y_o) in normalised coordinates samples the input at R(-a) (x_o, y_o);
        # the y axis points down, so a counter-clockwise turn on screen is a clockwise one here
        theta = torch.zeros(len(a), 2, 3, dtype=torch.float64)
        theta[:, 0, 0], theta[:, 0, 1] = cos, -sin * h / w
        theta[:, 1, 0], theta[:, 1, 1] = sin * w / h, cos
        grid = F.affine_grid(theta.to(img.dtype), list(img.shape), align_corners=False)
        return F.grid_sample(img, grid.to(img.device), mode="bilinear", padding_mode="zeros",
                             align_corners=False).reshape(shape)


class TimeShift(Transform):
    """Delay or advance each sequence ``[B, T, ...]`` by whole steps uniform in ``[-max_shift, max_shift]``; zeros fill in.

    A positive shift delays (the first steps become zeros). ``params``: ``[B]`` integer shifts.
    """

    def __init__(self, max_shift: int = 2) -> None:
        if int(max_shift) != max_shift or max_shift < 0:
            raise ValueError(f"max_shift must be a non-negative integer number of steps, got {max_shift!r}")
        self.max_shift = int(max_shift)

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return torch.randint(-self.max_shift, self.max_shift + 1, (x.shape[0],), generator=generator)

    def apply(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2:
            raise ValueError(f"TimeShift needs sequences [B, T, ...], got a batch of shape {tuple(x.shape)}")
        t = x.shape[1]
        out = torch.zeros_like(x)
        for i, s in enumerate(params.tolist()):
            if abs(s) >= t:
                continue
            if s >= 0:
                out[i, s:] = x[i, :t - s]
            else:
                out[i, :t + s] = x[i, -s:]
        return out


class GaussianNoise(Transform):
    """Add independent Gaussian noise of standard deviation ``std`` to every value. ``params``: the noise."""

    def __init__(self, std: float = 0.1) -> None:
        check_positive("std", std)
        self.std = float(std)

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return torch.randn(x.shape, generator=generator, dtype=torch.float64) * self.std

    def apply(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        if not x.is_floating_point():
            raise TypeError(f"GaussianNoise needs floating-point input, got {x.dtype}")
        return x + params.to(device=x.device, dtype=x.dtype)


class Augment:
    """Transforms applied in order to each training batch, drawing from one seeded generator.

    Args:
        *transforms: :class:`Transform` objects (or callables ``f(x, generator) -> x``).
        seed: seed of the generator (the same seed gives the same augmented batches).
        p: probability that a batch is augmented at all (1 = always).
    """

    def __init__(self, *transforms: Any, seed: int = 0, p: float = 1.0) -> None:
        if not transforms:
            raise ValueError("Augment needs at least one transform, e.g. Augment(RandomShift(2), seed=0)")
        for t in transforms:
            if not callable(t):
                raise TypeError(f"{t!r} is not a transform: pass Transform objects or callables f(x, generator) -> x")
        if int(seed) != seed:
            raise ValueError(f"seed must be an integer, got {seed!r}")
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
        self.transforms = list(transforms)
        self.seed = int(seed)
        self.p = float(p)
        self.generator = torch.Generator().manual_seed(self.seed)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.p < 1.0 and float(torch.rand((), generator=self.generator)) >= self.p:
            return x
        device = x.device
        y = x.cpu() if device.type != "cpu" else x
        for t in self.transforms:
            y = t(y, self.generator)
        return y.to(device)

    def reset(self) -> None:
        """Restart the generator from the seed."""
        self.generator.manual_seed(self.seed)

    def start_epoch(self, epoch: int) -> None:
        """Reseed from ``(seed, epoch)``: ``fit`` calls this before each epoch, so epoch ``e`` sees the
        same augmented batches in a run resumed at ``e`` as in the uninterrupted run."""
        self.generator.manual_seed((self.seed * 1_000_003 + int(epoch)) % (1 << 63))

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.generator.set_state(state["generator"])

    def __repr__(self) -> str:
        return f"Augment({', '.join(map(repr, self.transforms))}, seed={self.seed}, p={self.p})"
