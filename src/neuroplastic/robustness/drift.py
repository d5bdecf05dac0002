r"""Concept drift on a stream, and recovery by online plasticity.

**Task.** ``K`` classes in ``d`` dimensions; class ``k`` emits :math:`x \sim N(\mu_k(t), \sigma^2 I)`.
The means :math:`\mu_k` are drawn :math:`N(0, s^2 I)`; at ``drift_at`` they move to new draws,
at once (``"abrupt"``) or linearly over ``drift_len`` steps (``"gradual"``).

**Network.** :class:`PrototypeNetwork`: one plastic dense layer :math:`W \in R^{K \times d}` whose
rows are class prototypes, read out as the nearest prototype,
:math:`\hat y = \arg\max_k (w_k \cdot x - \tfrac12 \|w_k\|^2) = \arg\min_k \|x - w_k\|`.
It learns with Oja's rule (:class:`~neuroplastic.plasticity.Oja` through
:class:`~neuroplastic.plasticity.Plastic`) with the post-synaptic activity clamped to the one-hot
label (a teacher signal):

.. math:: \Delta w_{kj} = \eta\, y_k (x_j - y_k w_{kj}) = \eta\,[k = \text{label}]\,(x_j - w_{kj}),

an instar rule: each prototype is an exponential moving average of its class's inputs, so it
follows a moving mean with time constant :math:`1/\eta` samples.

**Protocol** (prequential, as River): for each sample predict, score, then (plastic network only)
learn. Both networks start from the same prototypes learned on ``warmup`` pre-drift samples;
the frozen one then stops learning.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from neuroplastic.plasticity import Oja, Plastic

__all__ = ["PrototypeNetwork", "drift_experiment", "drift_stream", "plot_drift"]


class PrototypeNetwork(nn.Module):
    """Nearest-prototype classifier whose prototypes learn with teacher-clamped Oja plasticity.

    Args:
        n_in: input dimension ``d``.
        n_classes: number of classes ``K``.
        lr: Oja learning rate :math:`\\eta` (per sample; the batch mean is used for batches).
    """

    def __init__(self, n_in: int, n_classes: int, lr: float = 0.05) -> None:
        super().__init__()
        self.conn = Plastic(nn.Linear(n_in, n_classes, bias=False), Oja(lr=float(lr)), update="inplace")
        nn.init.zeros_(self.conn.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores ``w_k . x - |w_k|^2 / 2`` (``[B, K]``): argmax is the nearest prototype."""
        w = self.conn.weight
        return self.conn(x) - 0.5 * (w * w).sum(1)

    @torch.no_grad()
    def learn(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """One plasticity step on a batch ``x[B, d]`` with labels ``y[B]`` (teacher-clamped post)."""
        post = torch.nn.functional.one_hot(y.long(), self.conn.weight.shape[0]).to(x.dtype)
        self.conn.update(x, post)


def drift_stream(kind: str = "abrupt", *, n_steps: int = 3000, n_classes: int = 4, dim: int = 8,
                 sigma: float = 1.0, spread: float = 1.0, drift_at: int | None = None, drift_len: int = 1000,
                 seed: int = 0) -> dict[str, np.ndarray]:
    """Draw a drifting prototype stream.

    Args:
        kind: ``"abrupt"``, ``"gradual"`` or ``"none"``.
        n_steps: stream length (one sample per step).
        n_classes, dim: ``K`` and ``d``.
        sigma: within-class standard deviation.
        spread: standard deviation ``s`` of the class means.
        drift_at: step where drift starts (default ``n_steps // 2``, gradual: ``n_steps // 3``).
        drift_len: duration of a gradual drift in steps.
        seed: random seed.

    Returns:
        ``{"x": [n, d] float32, "y": [n] int64, "means": [n, K, d], "drift_at": int, "drift_end": int}``.
    """
    if kind not in ("abrupt", "gradual", "none"):
        raise ValueError(f"kind must be 'abrupt', 'gradual' or 'none', got {kind!r}")
    rng = np.random.default_rng(seed)
    if drift_at is None:
        drift_at = n_steps // 2 if kind != "gradual" else n_steps // 3
    if not 0 < drift_at < n_steps:
        raise ValueError(f"drift_at must lie inside the stream (0, {n_steps}), got {drift_at}")
    old = rng.normal(0.0, spread, (n_classes, dim))
    new = rng.normal(0.0, spread, (n_classes, dim))
    t = np.arange(n_steps)
    if kind == "none":
        a = np.zeros(n_steps)
        end = drift_at
    elif kind == "abrupt":
        a = (t >= drift_at).astype(float)
        end = drift_at
    else:
        a = np.clip((t - drift_at) / max(drift_len, 1), 0.0, 1.0)
        end = min(drift_at + drift_len, n_steps)
    means = (1 - a)[:, None, None] * old[None] + a[:, None, None] * new[None]
    y = rng.integers(0, n_classes, n_steps)
    x = means[t, y] + sigma * rng.standard_normal((n_steps, dim))
    return {"x": x.astype(np.float32), "y": y.astype(np.int64), "means": means, "drift_at": int(drift_at),
            "drift_end": int(end)}


def _windowed(correct: np.ndarray, window: int) -> np.ndarray:
    c = np.cumsum(np.concatenate([[0.0], correct.astype(float)]))
    idx = np.arange(1, len(correct) + 1)
    lo = np.maximum(0, idx - window)
    return (c[idx] - c[lo]) / (idx - lo)


def drift_experiment(kind: str = "abrupt", *, n_steps: int = 3000, warmup: int = 500, lr: float = 0.05,
                     window: int = 100, seed: int = 0, **stream_kwargs: Any) -> dict[str, Any]:
    """Prequential accuracy of a plastic vs a frozen :class:`PrototypeNetwork` on a drifting stream.

    Args:
        kind: ``"abrupt"``, ``"gradual"`` or ``"none"`` (see :func:`drift_stream`).
        n_steps: stream length.
        warmup: first samples both networks learn from (must end before the drift).
        lr: Oja learning rate.
        window: moving-window length for the accuracy curves.
        seed: random seed (same seed, same result).
        stream_kwargs: passed to :func:`drift_stream`.

    Returns:
        JSON-able dict: ``curves`` (windowed accuracy per step for ``"plastic"`` and ``"frozen"``),
        ``before`` (accuracy over the ``window`` steps before the drift), ``after`` (over the last
        ``window`` steps), ``recovery_steps`` (the first window that starts this many steps after
        the drift ends has the plastic network back within 2 points of ``before``; None if never)
        and the stream's ``drift_at`` / ``drift_end``.
    """
    stream = drift_stream(kind, n_steps=n_steps, seed=seed, **stream_kwargs)
    if not 0 < warmup < stream["drift_at"]:
        raise ValueError(f"warmup ({warmup}) must end before the drift starts (step {stream['drift_at']})")
    x = torch.from_numpy(stream["x"])
    y = torch.from_numpy(stream["y"])
    k = int(stream["means"].shape[1])
    plastic = PrototypeNetwork(x.shape[1], k, lr=lr)
    for i in range(warmup):
        plastic.learn(x[i:i + 1], y[i:i + 1])
    frozen = PrototypeNetwork(x.shape[1], k, lr=lr)
    frozen.load_state_dict(plastic.state_dict())
    correct = {"plastic": np.zeros(n_steps - warmup, bool), "frozen": np.zeros(n_steps - warmup, bool)}
    with torch.no_grad():
        for j, i in enumerate(range(warmup, n_steps)):
            xi, yi = x[i:i + 1], y[i:i + 1]
            correct["plastic"][j] = bool(plastic(xi).argmax(1) == yi)
            correct["frozen"][j] = bool(frozen(xi).argmax(1) == yi)
            plastic.learn(xi, yi)
    curves = {name: _windowed(c, window) for name, c in correct.items()}
    d0, d1 = stream["drift_at"] - warmup, stream["drift_end"] - warmup
    before = {n: float(c[max(0, d0 - window):d0].mean()) for n, c in correct.items()}
    after = {n: float(c[-window:].mean()) for n, c in correct.items()}
    rec = None
    target = before["plastic"] - 0.02
    for j in range(d1 + window - 1, len(curves["plastic"])):   # windows that start at or after the drift end
        if curves["plastic"][j] >= target:
            rec = int(j - window + 1 - d1)
            break
    return {"kind": kind, "seed": int(seed), "warmup": int(warmup), "window": int(window),
            "drift_at": int(stream["drift_at"]), "drift_end": int(stream["drift_end"]),
            "steps": list(range(warmup, n_steps)),
            "curves": {n: c.tolist() for n, c in curves.items()}, "before": before, "after": after,
            "recovery_steps": rec}


def plot_drift(results: list[dict[str, Any]] | dict[str, Any], path: str | None = None) -> Any:
    """Windowed prequential accuracy of plastic vs frozen, one panel per drift experiment."""
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    results = [results] if isinstance(results, dict) else list(results)
    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 3.6), squeeze=False)
    for ax, res in zip(axes[0], results):
        for name, curve in res["curves"].items():
            ax.plot(res["steps"], curve, label=name)
        ax.axvline(res["drift_at"], color="k", ls="--", lw=0.8)
        if res["drift_end"] != res["drift_at"]:
            ax.axvline(res["drift_end"], color="k", ls=":", lw=0.8)
        ax.set_title(f"{res['kind']} drift (window {res['window']})", fontsize=10)
        ax.set_xlabel("stream step")
        ax.set_ylabel("prequential accuracy")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
