r"""A binary population code of a vector observation: tile coding (CMAC, Albus 1975).

Each of ``n_tilings`` tilings cuts the box ``[low, high]`` into ``bins`` intervals per dimension,
shifted by a fraction of a bin (asymmetric displacements ``(1, 3, 5, ...)``, Miller & Glanz
1996), and takes the full conjunction of the dimensions: a tiling has ``(bins + 1) ** d`` tiles
(the shift adds one interval). Each tile is a binary neuron that fires when the observation lies
in its receptive field, so exactly ``n_tilings`` of the ``n_tilings * (bins + 1) ** d`` neurons
are active at each step; :func:`tile_encode` returns their indices. Observations outside the box
are clipped onto it.

Bounds come from the observation space where it is bounded. Where it is not (CartPole's
velocities), a table of measured ranges for known environments fills them in
(:data:`KNOWN_BOUNDS`), and otherwise :func:`tile_coding_for` raises an error that asks for
``bounds=``.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import numpy as np
import torch

from neuroplastic.rl._gym import box_space, env_name

#: half-widths of the observation box of environments whose space is (partly) unbounded
KNOWN_BOUNDS: dict[str, tuple[float, ...]] = {
    # x, x_dot, theta, theta_dot (the space says 4.8, inf, 0.418, inf; the episode ends at 2.4 / 0.21)
    "CartPole": (2.4, 3.0, 0.21, 3.5),
}

#: at most this many tiles per tiling: ``bins`` is lowered for high-dimensional observations
MAX_TILES_PER_TILING = 4096


@dataclasses.dataclass(frozen=True)
class TileCoding:
    """Settings of a tile coder; :meth:`offsets` and :attr:`n_features` follow from them.

    Attributes:
        low, high: the box, one value per observation dimension (``high > low``, finite).
        n_tilings: number of shifted tilings (= active neurons per observation).
        bins: intervals per dimension and tiling.
    """

    low: tuple[float, ...]
    high: tuple[float, ...]
    n_tilings: int = 16
    bins: int = 4

    def __post_init__(self) -> None:
        low, high = tuple(float(v) for v in self.low), tuple(float(v) for v in self.high)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        if len(low) != len(high) or not low:
            raise ValueError(f"low and high need one value per observation dimension, got {len(low)} and {len(high)}")
        for i, (lo, hi) in enumerate(zip(low, high)):
            if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
                raise ValueError(f"dimension {i} has bounds [{lo}, {hi}]: tile coding needs finite bounds with "
                                 "high > low; pass bounds=(low, high) for it")
        if int(self.n_tilings) < 1 or int(self.bins) < 1:
            raise ValueError(f"n_tilings ({self.n_tilings}) and bins ({self.bins}) must be >= 1")
        if self.tiles_per_tiling > 2**24:
            raise ValueError(f"{self.tiles_per_tiling} tiles per tiling ({self.bins + 1}^{self.n_dims}) is too many: "
                             "lower bins")

    @property
    def n_dims(self) -> int:
        return len(self.low)

    @property
    def tiles_per_tiling(self) -> int:
        return (int(self.bins) + 1) ** self.n_dims

    @property
    def n_features(self) -> int:
        """Size of the binary population."""
        return int(self.n_tilings) * self.tiles_per_tiling

    def offsets(self) -> torch.Tensor:
        """Displacement of tiling ``t`` along dimension ``j``, in bins: ``(t (2j + 1) mod n) / n``."""
        n = int(self.n_tilings)
        t = torch.arange(n, dtype=torch.float64)[:, None]
        odd = (2 * torch.arange(self.n_dims, dtype=torch.float64) + 1)[None, :]
        return torch.remainder(t * odd, n) / n

    def to_config(self) -> dict[str, Any]:
        return {"low": list(self.low), "high": list(self.high), "n_tilings": int(self.n_tilings), "bins": int(self.bins)}


class TileTables:
    """The constant arrays :func:`tile_encode` needs (built once per coder; NumPy, because one
    observation is a handful of numbers and NumPy's per-call cost is a fraction of torch's)."""

    def __init__(self, coding: TileCoding) -> None:
        self.coding = coding
        self.low = np.asarray(coding.low, dtype=np.float64)
        self.high = np.asarray(coding.high, dtype=np.float64)
        self.scale = coding.bins / (self.high - self.low)
        self.offsets = coding.offsets().numpy()
        b = coding.bins + 1
        self.strides = np.asarray([b ** j for j in range(coding.n_dims)], dtype=np.int64)
        self.base = np.arange(coding.n_tilings, dtype=np.int64) * coding.tiles_per_tiling


def tile_encode(obs: Any, tables: TileTables) -> torch.Tensor:
    """Indices ``[n_tilings]`` (int64 tensor) of the active neurons for one observation ``[d]``.

    Tile of tiling ``t``: ``c_j = floor(bins (x_j - low_j) / (high_j - low_j) + o_tj)`` per
    dimension (``x`` clipped to the box), index ``t (bins+1)^d + sum_j c_j (bins+1)^j``.
    """
    x = obs.detach().cpu().numpy() if isinstance(obs, torch.Tensor) else np.asarray(obs)
    x = x.astype(np.float64, copy=False).reshape(-1)
    if x.shape[0] != tables.coding.n_dims:
        raise ValueError(f"observation has {x.shape[0]} values but the tile coder was built for "
                         f"{tables.coding.n_dims}: build it from this environment's observation space")
    if not np.isfinite(x).all():
        raise ValueError(f"observation {x.tolist()} is not finite: check the environment")
    z = (np.clip(x, tables.low, tables.high) - tables.low) * tables.scale
    coords = np.floor(z + tables.offsets).astype(np.int64)        # [n_tilings, d], values 0..bins
    return torch.from_numpy(tables.base + coords @ tables.strides)


def tile_coding_for(env: Any, *, n_tilings: int = 16, bins: int | None = None,
                    bounds: Sequence[Sequence[float]] | None = None) -> TileCoding:
    """A tile coder for ``env``'s flat ``Box`` observation space.

    Bounds, per dimension: ``bounds=(low, high)`` if given, else the space's where finite, else
    :data:`KNOWN_BOUNDS` for the environment. ``bins`` defaults to 4, lowered until a tiling has
    at most :data:`MAX_TILES_PER_TILING` tiles (Acrobot's 6 dimensions get 3).

    Raises:
        ValueError: a non-Box space, or a dimension without finite bounds (pass ``bounds=``).
    """
    space = box_space(env)
    d = int(space.shape[0])
    if bounds is not None:
        low, high = (tuple(float(v) for v in b) for b in bounds)
        if len(low) != d or len(high) != d:
            raise ValueError(f"bounds need {d} lows and {d} highs for {env_name(env)}, got {len(low)} and {len(high)}")
    else:
        low = [float(v) for v in space.low]
        high = [float(v) for v in space.high]
        known = KNOWN_BOUNDS.get(env_name(env).split("-")[0])
        if known is not None and len(known) == d:
            low, high = [-h for h in known], list(known)
        bad = [j for j in range(d) if not (math.isfinite(low[j]) and math.isfinite(high[j]))]
        if bad:
            raise ValueError(f"{env_name(env)}'s observation space is unbounded in dimension(s) {bad}: the tile coder "
                             "needs a finite box; pass bounds=(low, high) (one value per dimension, e.g. the range "
                             "seen in a few random episodes)")
    if bins is None:
        bins = 4
        while bins > 1 and (bins + 1) ** d > MAX_TILES_PER_TILING:
            bins -= 1
    return TileCoding(tuple(low), tuple(high), int(n_tilings), int(bins))
