"""Free Spoken Digit Dataset (FSDD) and any folder of ``{digit}_{speaker}_{take}.wav`` files.

The loader reads local WAV files with :mod:`scipy.io.wavfile`; nothing is downloaded. The shared
copy lives in ``<data_root>/fsdd/recordings`` (see :func:`neuroplastic.datasets.data_root`).

Standard split (upstream and the literature): takes 0-4 of every speaker and digit are the test
set, takes 5 and above the training set.

Bad input raises an error that names the file and the fix; nothing is dropped silently:

- a sample rate other than ``sample_rate`` is refused unless ``resample=True``, which resamples
  with :func:`scipy.signal.resample_poly` (polyphase, anti-aliased);
- stereo (multi-channel) files are refused unless ``mix="mean"`` averages the channels;
- empty or truncated WAV files, files that are not WAV, names without a ``{digit}_{speaker}_{take}``
  label and empty folders are refused.

Example:
    >>> from neuroplastic.datasets import load_fsdd, data_root   # doctest: +SKIP
    >>> fsdd = load_fsdd(data_root() / "fsdd")                    # doctest: +SKIP
    >>> train, test = fsdd.standard_split()                       # doctest: +SKIP
"""
from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Union

import numpy as np

__all__ = ["FSDD_TEST_TAKES", "AudioSet", "load_fsdd", "read_wav"]

PathLike = Union[str, os.PathLike]

#: Takes 0..4 of each speaker and digit form the standard test set.
FSDD_TEST_TAKES = 5

_NAME = re.compile(r"^(?P<digit>\d+)_(?P<speaker>[A-Za-z0-9-]+)_(?P<take>\d+)\.wav$", re.IGNORECASE)


@dataclass(frozen=True, eq=False)
class AudioSet:
    """Labelled recordings of varying length.

    Attributes:
        recordings: one float32 array ``[n_samples]`` per file, scaled to [-1, 1].
        labels: digit of each file, int64 ``[N]``.
        speakers: speaker name of each file.
        takes: take number of each file, int64 ``[N]``.
        paths: the file each recording came from.
        sample_rate: samples per second of every recording.
    """

    recordings: tuple[np.ndarray, ...]
    labels: np.ndarray
    speakers: tuple[str, ...]
    takes: np.ndarray
    paths: tuple[str, ...]
    sample_rate: int

    def __len__(self) -> int:
        return len(self.labels)

    def __iter__(self) -> Iterator:
        yield self.recordings
        yield self.labels

    @property
    def speaker_names(self) -> tuple[str, ...]:
        """The distinct speakers, sorted."""
        return tuple(sorted(set(self.speakers)))

    @property
    def lengths(self) -> np.ndarray:
        """Number of samples of each recording, int64 ``[N]``."""
        return np.array([len(r) for r in self.recordings], dtype=np.int64)

    @property
    def is_test(self) -> np.ndarray:
        """Boolean mask of the standard test set (takes ``< FSDD_TEST_TAKES``)."""
        return self.takes < FSDD_TEST_TAKES

    def subset(self, index: Sequence[int] | np.ndarray) -> AudioSet:
        """The recordings at ``index`` (integer indices or a boolean mask), in that order."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise ValueError(f"boolean mask has shape {idx.shape}, expected ({len(self)},): pass one flag per recording")
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64)
        return AudioSet(tuple(self.recordings[i] for i in idx), self.labels[idx],
                        tuple(self.speakers[i] for i in idx), self.takes[idx],
                        tuple(self.paths[i] for i in idx), self.sample_rate)

    def standard_split(self) -> tuple[AudioSet, AudioSet]:
        """``(train, test)``: takes >= 5 train, takes 0-4 test."""
        return self.subset(~self.is_test), self.subset(self.is_test)

    def speaker_split(self, speaker: str) -> tuple[AudioSet, AudioSet]:
        """``(train, test)`` for leave-one-speaker-out: ``speaker``'s files are the test set."""
        if speaker not in self.speakers:
            raise ValueError(f"unknown speaker {speaker!r}: choose one of {', '.join(self.speaker_names)}")
        held = np.array([s == speaker for s in self.speakers])
        return self.subset(~held), self.subset(held)

    def __repr__(self) -> str:
        return (f"AudioSet(n={len(self)}, sample_rate={self.sample_rate}, "
                f"speakers={list(self.speaker_names)}, classes={sorted(set(self.labels.tolist()))})")


def _to_float(data: np.ndarray, path: Path) -> np.ndarray:
    if data.dtype == np.uint8:  # 8-bit WAV is unsigned
        return (data.astype(np.float32) - 128.0) / 128.0
    if data.dtype.kind == "i":
        return (data.astype(np.float64) / float(2 ** (8 * data.dtype.itemsize - 1))).astype(np.float32)
    if data.dtype.kind == "f":
        return data.astype(np.float32)
    raise ValueError(f"{path}: unsupported WAV sample type {data.dtype}: convert the file to 16-bit PCM")


def read_wav(path: PathLike, *, sample_rate: int | None = None, resample: bool = False,
             mix: str | None = None) -> tuple[np.ndarray, int]:
    """Read one WAV file as float32 mono samples in [-1, 1]; returns ``(samples, rate)``.

    Args:
        path: the ``.wav`` file.
        sample_rate: expected rate in Hz (``None``: keep the file's rate).
        resample: resample other rates to ``sample_rate`` (``resample_poly``) instead of refusing.
        mix: ``"mean"`` averages the channels of a multi-channel file; ``None`` refuses them.
    """
    from scipy.io import wavfile

    path = Path(path)
    if mix not in (None, "mean"):
        raise ValueError(f"unknown mix {mix!r}: choose None (refuse multi-channel files) or 'mean'")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rate, data = wavfile.read(path)
    except (ValueError, EOFError, OSError) as e:
        if isinstance(e, (FileNotFoundError, IsADirectoryError, PermissionError)):
            raise
        raise ValueError(f"{path}: not a readable WAV file ({e}): replace it with a valid PCM WAV or remove it "
                         "from the folder") from None
    except Exception as e:  # scipy raises struct.error on files cut inside the header
        raise ValueError(f"{path}: truncated or corrupt WAV header ({type(e).__name__}: {e}): "
                         "re-export the file or remove it from the folder") from None
    for w in caught:
        if "EOF" in str(w.message) or "prematurely" in str(w.message):
            raise ValueError(f"{path}: truncated WAV ({w.message}): re-export the file or remove it from the folder")
    x = _to_float(np.asarray(data), path)
    if x.ndim == 2:
        if x.shape[1] == 1:
            x = x[:, 0]
        elif mix == "mean":
            x = x.mean(axis=1, dtype=np.float32)
        else:
            raise ValueError(f"{path}: has {x.shape[1]} channels, expected mono: pass mix='mean' to average "
                             "the channels, or convert the file to mono")
    if x.size == 0:
        raise ValueError(f"{path}: WAV file has no samples: re-record or remove it from the folder")
    if not np.isfinite(x).all():
        raise ValueError(f"{path}: contains NaN or inf samples: re-export the file")
    if sample_rate is not None and rate != sample_rate:
        if not resample:
            raise ValueError(f"{path}: sample rate {rate} Hz, expected {sample_rate} Hz: pass resample=True to "
                             f"resample with scipy.signal.resample_poly, or sample_rate={rate}")
        from scipy.signal import resample_poly

        frac = Fraction(int(sample_rate), int(rate))
        x = resample_poly(x.astype(np.float64), frac.numerator, frac.denominator).astype(np.float32)
        rate = int(sample_rate)
    return np.ascontiguousarray(x, dtype=np.float32), int(rate)


def _audio_folder(root: Path) -> Path:
    if not root.exists():
        raise FileNotFoundError(f"{root} does not exist: pass the FSDD folder (holding recordings/) or a folder of "
                                "{digit}_{speaker}_{take}.wav files; the shared copy is data_root() / 'fsdd'")
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a folder: pass the folder that holds the .wav files")
    sub = root / "recordings"
    return sub if sub.is_dir() else root


def load_fsdd(root: PathLike, *, sample_rate: int = 8000, resample: bool = False, mix: str | None = None,
              skip_other_files: bool = False) -> AudioSet:
    """Load every ``{digit}_{speaker}_{take}.wav`` in ``root`` (or ``root/recordings``).

    Args:
        root: the FSDD folder (with ``recordings/``) or any folder of such WAV files.
        sample_rate: rate every recording must have (Hz).
        resample: resample files at another rate with ``scipy.signal.resample_poly`` instead of
            refusing them.
        mix: ``"mean"`` averages multi-channel files to mono instead of refusing them.
        skip_other_files: ignore files whose name does not end in ``.wav`` (by default they are
            refused, so that nothing is dropped silently). Hidden files (``.*``) are always ignored.

    Returns:
        An :class:`AudioSet` sorted by (digit, speaker, take); ``standard_split()`` gives the
        standard train/test split.
    """
    folder = _audio_folder(Path(root))
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    others = [p for p in entries if not (p.is_file() and p.suffix.lower() == ".wav")]
    if others and not skip_other_files:
        shown = ", ".join(p.name for p in others[:5]) + (" ..." if len(others) > 5 else "")
        raise ValueError(f"{folder}: {len(others)} entries are not .wav files ({shown}): move them out of the folder "
                         "or pass skip_other_files=True")
    wavs = [p for p in entries if p.is_file() and p.suffix.lower() == ".wav"]
    if not wavs:
        raise ValueError(f"{folder}: no .wav files found: pass the folder that holds {{digit}}_{{speaker}}_{{take}}.wav "
                         "files (for FSDD the one holding recordings/)")
    rows = []
    for p in wavs:
        m = _NAME.match(p.name)
        if m is None:
            raise ValueError(f"{p}: file name has no label: name it {{digit}}_{{speaker}}_{{take}}.wav "
                             "(e.g. 7_jackson_32.wav) or move it out of the folder")
        rows.append((int(m["digit"]), m["speaker"], int(m["take"]), p))
    rows.sort(key=lambda r: (r[0], r[1], r[2], r[3].name))
    seen: dict[tuple[int, str, int], Path] = {}
    for d, s, t, p in rows:
        if (d, s, t) in seen:
            raise ValueError(f"{p} and {seen[(d, s, t)]} have the same digit, speaker and take: rename or remove one")
        seen[(d, s, t)] = p
    recs = tuple(read_wav(p, sample_rate=sample_rate, resample=resample, mix=mix)[0] for *_, p in rows)
    return AudioSet(
        recordings=recs,
        labels=np.array([r[0] for r in rows], dtype=np.int64),
        speakers=tuple(r[1] for r in rows),
        takes=np.array([r[2] for r in rows], dtype=np.int64),
        paths=tuple(str(r[3]) for r in rows),
        sample_rate=int(sample_rate),
    )
