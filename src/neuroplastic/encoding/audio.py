r"""Audio front end: log-mel filterbank features and per-channel spike coding, time first.

Pipeline for one recording ``x`` (float samples at ``sample_rate``):

1. optional peak normalisation (``x / max|x|``; an all-zero recording stays zero);
2. short-time power spectrum: Hann window of ``win_ms``, hop ``hop_ms``, FFT size ``n_fft``;
3. ``n_mels`` triangular filters equally spaced on the HTK mel scale
   :math:`m(f) = 2595 \log_{10}(1 + f/700)` between ``fmin`` and ``fmax`` (:func:`mel_filterbank`);
4. :math:`\log(\text{mel} + \varepsilon)`; silence gives exactly :math:`\log\varepsilon` in every
   channel (the *floor*).

Variable-length batches are padded to the longest (:func:`pad_batch`) and come with a boolean
mask ``[T, B]`` (True on real frames). Spike codes (:func:`spike_encode`), per channel:

- ``"threshold"``: one output per channel and level; spike while the feature is at or above the
  level (a thermometer code); output ``[T, B, C * L]``.
- ``"level_crossing"``: fixed levels spaced ``delta`` apart; an ON (OFF) spike when the feature
  crosses at least one level upwards (downwards) since the previous frame; ``[T, B, 2C]``.
- ``"send_on_delta"``: ON/OFF when the feature moved by ``delta`` from the last level sent
  (:func:`neuroplastic.encoding.delta.delta_step`); ``[T, B, 2C]``.

Both change codes start from the floor (the value of silence before the first frame), so the
onset of a sound is coded and silence gives no spikes. Padded steps carry no spikes.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from neuroplastic._core.checks import check_in_choices, check_positive
from neuroplastic.encoding.delta import DeltaState, delta_step

__all__ = [
    "AudioEncoder",
    "LogMelConfig",
    "SPIKE_METHODS",
    "hz_to_mel",
    "log_mel",
    "mel_filterbank",
    "mel_to_hz",
    "pad_batch",
    "spike_encode",
]

SPIKE_METHODS = ("threshold", "level_crossing", "send_on_delta")


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: ``2595 log10(1 + f / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(n_mels: int, n_fft: int, sample_rate: float, fmin: float = 0.0,
                   fmax: float | None = None) -> np.ndarray:
    """Triangular mel filters ``[n_mels, n_fft // 2 + 1]`` (peak 1 at each centre frequency).

    Filter ``k`` rises from mel point ``k`` to ``k + 1`` and falls to ``k + 2`` of ``n_mels + 2``
    points equally spaced in mel between ``fmin`` and ``fmax`` (default ``sample_rate / 2``).
    """
    if int(n_mels) < 1 or int(n_fft) < 2:
        raise ValueError(f"need n_mels >= 1 and n_fft >= 2, got {n_mels}, {n_fft}")
    fmax = sample_rate / 2.0 if fmax is None else float(fmax)
    if not 0.0 <= fmin < fmax <= sample_rate / 2.0:
        raise ValueError(f"need 0 <= fmin < fmax <= sample_rate/2 = {sample_rate / 2}, got fmin={fmin}, fmax={fmax}")
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    pts = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    lo, mid, hi = pts[:-2, None], pts[1:-1, None], pts[2:, None]
    up = (freqs[None] - lo) / (mid - lo)
    down = (hi - freqs[None]) / (hi - mid)
    fb = np.clip(np.minimum(up, down), 0.0, None)
    empty = np.flatnonzero(fb.sum(axis=1) == 0)
    if empty.size:
        raise ValueError(f"mel filters {empty.tolist()} cover no FFT bin: lower n_mels or raise n_fft (now {n_fft})")
    return fb.astype(np.float32)


@dataclass(frozen=True)
class LogMelConfig:
    """Log-mel front end settings (times in milliseconds, frequencies in Hz)."""

    sample_rate: int = 8000
    n_mels: int = 40
    win_ms: float = 25.0
    hop_ms: float = 10.0
    n_fft: int | None = None  # None: next power of two >= the window
    fmin: float = 20.0
    fmax: float | None = None
    eps: float = 1e-6
    peak_normalize: bool = True

    def __post_init__(self) -> None:
        check_positive("sample_rate", self.sample_rate)
        check_positive("win_ms", self.win_ms)
        check_positive("hop_ms", self.hop_ms)
        check_positive("eps", self.eps)
        if self.n_fft is not None and self.n_fft < self.win_length:
            raise ValueError(f"n_fft={self.n_fft} is shorter than the window ({self.win_length} samples): "
                             "raise n_fft or shorten win_ms")

    @property
    def win_length(self) -> int:
        return max(2, int(round(self.win_ms * 1e-3 * self.sample_rate)))

    @property
    def hop_length(self) -> int:
        return max(1, int(round(self.hop_ms * 1e-3 * self.sample_rate)))

    @property
    def fft_size(self) -> int:
        return self.n_fft if self.n_fft is not None else 1 << (self.win_length - 1).bit_length()

    @property
    def floor(self) -> float:
        """The feature value of silence, ``log(eps)``."""
        return math.log(self.eps)

    def filters(self) -> np.ndarray:
        return mel_filterbank(self.n_mels, self.fft_size, self.sample_rate, self.fmin, self.fmax)


def log_mel(x: np.ndarray, config: LogMelConfig | None = None) -> np.ndarray:
    """Log-mel features ``[frames, n_mels]`` (float32) of one mono recording ``x``.

    ``frames = 1 + max(0, len(x) - win) // hop``; a recording shorter than one window is
    zero-padded to one frame.
    """
    cfg = config or LogMelConfig()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"recording must be 1-D mono samples, got shape {x.shape}: average the channels first")
    if x.size == 0:
        raise ValueError("recording has no samples: drop it before encoding")
    if not np.isfinite(x).all():
        raise ValueError("recording contains NaN or inf: clean the samples first")
    if cfg.peak_normalize:
        peak = np.abs(x).max()
        if peak > 0:
            x = x / peak
    win, hop, n_fft = cfg.win_length, cfg.hop_length, cfg.fft_size
    if x.size < win:
        x = np.pad(x, (0, win - x.size))
    n = 1 + (x.size - win) // hop
    idx = np.arange(win)[None, :] + hop * np.arange(n)[:, None]
    frames = x[idx] * np.hanning(win + 2)[1:-1]  # periodic-free Hann without zero end points
    power = np.abs(np.fft.rfft(frames, n=n_fft, axis=1)) ** 2 / win
    mel = power @ cfg.filters().T.astype(np.float64)
    return np.log(mel + cfg.eps).astype(np.float32)


def pad_batch(seqs: Sequence[np.ndarray | torch.Tensor], *, pad_value: float = 0.0,
              max_len: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack variable-length ``[T_i, ...]`` sequences time first.

    Returns ``(x[T, B, ...], mask[T, B])`` with ``T = max T_i`` (or ``max_len``, which crops
    longer sequences) and ``mask`` True on real steps; padded steps hold ``pad_value``.
    """
    if len(seqs) == 0:
        raise ValueError("empty batch: pass at least one sequence")
    ts = [torch.as_tensor(np.asarray(s) if not isinstance(s, torch.Tensor) else s) for s in seqs]
    tail = ts[0].shape[1:]
    for i, t in enumerate(ts):
        if t.ndim < 1 or t.shape[1:] != tail or t.shape[0] == 0:
            raise ValueError(f"sequence {i} has shape {tuple(t.shape)}; all need [T_i>0, *{tuple(tail)}]")
    T = max(t.shape[0] for t in ts) if max_len is None else int(max_len)
    out = torch.full((T, len(ts), *tail), float(pad_value), dtype=ts[0].dtype if ts[0].is_floating_point() else torch.float32)
    mask = torch.zeros(T, len(ts), dtype=torch.bool)
    for b, t in enumerate(ts):
        n = min(T, t.shape[0])
        out[:n, b] = t[:n].to(out.dtype)
        mask[:n, b] = True
    return out, mask


def _levels(levels: Sequence[float] | float | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    lv = torch.as_tensor(levels, dtype=like.dtype).reshape(-1)
    if lv.numel() == 0:
        raise ValueError("threshold coding needs at least one level")
    return lv


def spike_encode(x: torch.Tensor, method: str = "send_on_delta", *, mask: torch.Tensor | None = None,
                 levels: Sequence[float] | float = 0.0, delta: float = 1.0,
                 rest: float | torch.Tensor | None = None) -> torch.Tensor:
    """Spike-code features ``x[T, B, C]`` channel by channel (see the module docstring).

    Args:
        x: features, time first.
        method: ``"threshold"``, ``"level_crossing"`` or ``"send_on_delta"``.
        mask: ``[T, B]`` True on real steps; padded steps get no spikes and do not move the
            coder's reference.
        levels: threshold coding's levels (one output per channel and level).
        delta: level spacing (level crossing) or step (send-on-delta), in feature units.
        rest: the value before the first step for the change codes (``None``: the first frame,
            so a constant input gives no spikes).

    Returns:
        float spikes: ``[T, B, C * L]`` (threshold, level-major within each channel) or
        ``[T, B, 2C]`` (ON for all channels, then OFF).
    """
    check_in_choices("spike method", method, SPIKE_METHODS)
    if x.ndim != 3:
        raise ValueError(f"features must be [T, B, C], got shape {tuple(x.shape)}")
    x = x.float()
    m = torch.ones(x.shape[:2], dtype=torch.bool) if mask is None else mask.to(torch.bool)
    if m.shape != x.shape[:2]:
        raise ValueError(f"mask shape {tuple(m.shape)} does not match features {tuple(x.shape[:2])}")
    mf = m.unsqueeze(-1).to(x.dtype)
    T, B, C = x.shape
    if method == "threshold":
        lv = _levels(levels, x)
        s = (x.unsqueeze(-1) >= lv).to(x.dtype).reshape(T, B, C * lv.numel())
        return s * mf
    check_positive("delta", delta)
    ref = x[0].clone() if rest is None else torch.broadcast_to(torch.as_tensor(rest, dtype=x.dtype), x[0].shape).clone()
    outs = []
    if method == "level_crossing":
        q_prev = torch.floor(ref / delta)
        for t in range(T):
            q = torch.floor(x[t] / delta)
            on, off = (q > q_prev), (q < q_prev)
            outs.append(torch.cat([on, off], dim=-1).to(x.dtype))
            q_prev = torch.where(m[t].unsqueeze(-1), q, q_prev)
    else:
        state = DeltaState(ref)
        for t in range(T):
            s, new = delta_step(x[t], state, delta)
            outs.append(torch.cat([s[..., 0], s[..., 1]], dim=-1))
            state = DeltaState(torch.where(m[t].unsqueeze(-1), new.ref, state.ref))
    return torch.stack(outs) * mf


@dataclass(frozen=True)
class AudioEncoder:
    """Recordings -> log-mel -> padded ``[T, B, C]`` features or spikes, with the mask.

    ``features(recordings)`` returns ``(x[T, B, n_mels], mask[T, B])``; ``__call__`` spike-codes
    them with ``method`` (``None``: return the analog features). The change codes start from the
    silence floor ``log(eps)``; threshold levels are in the same log units.
    """

    mel: LogMelConfig = LogMelConfig()
    method: str | None = "send_on_delta"
    levels: tuple[float, ...] = (-8.0, -6.0, -4.0, -2.0)
    delta: float = 1.0

    def __post_init__(self) -> None:
        if self.method is not None:
            check_in_choices("spike method", self.method, SPIKE_METHODS)

    def features(self, recordings: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        return pad_batch([log_mel(r, self.mel) for r in recordings], pad_value=self.mel.floor)

    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.method is None:
            return x
        return spike_encode(x, self.method, mask=mask, levels=self.levels, delta=self.delta, rest=self.mel.floor)

    def __call__(self, recordings: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        x, mask = self.features(recordings)
        return self.encode(x, mask), mask

    @property
    def n_outputs(self) -> int:
        if self.method is None:
            return self.mel.n_mels
        if self.method == "threshold":
            return self.mel.n_mels * len(self.levels)
        return 2 * self.mel.n_mels
