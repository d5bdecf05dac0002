"""load_fsdd / read_wav on synthetic WAV files the tests write (and on the shared copy if present)."""
from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from neuroplastic.datasets import AudioSet, load_fsdd, read_wav


def _tone(f: float, n: int, rate: int = 8000) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * f * np.arange(n) / rate) * 32767).astype(np.int16)


def _write_set(folder, digits=(0, 1, 2), speakers=("ann", "bob"), takes=range(7)):
    folder.mkdir(parents=True, exist_ok=True)
    for d in digits:
        for s in speakers:
            for t in takes:
                wavfile.write(folder / f"{d}_{s}_{t}.wav", 8000, _tone(200 + 100 * d, 400 + 10 * t))
    return folder


def test_labels_speakers_takes_and_standard_split(tmp_path):
    _write_set(tmp_path / "recordings")
    ds = load_fsdd(tmp_path)  # finds recordings/
    assert isinstance(ds, AudioSet) and len(ds) == 3 * 2 * 7
    assert ds.sample_rate == 8000 and ds.speaker_names == ("ann", "bob")
    i = ds.paths.index(str(tmp_path / "recordings" / "2_bob_6.wav"))
    assert ds.labels[i] == 2 and ds.speakers[i] == "bob" and ds.takes[i] == 6
    assert ds.lengths[i] == 460
    # samples scaled to [-1, 1] exactly as int16 / 32768
    np.testing.assert_allclose(ds.recordings[i], _tone(400, 460) / 32768.0, atol=1e-7)
    train, test = ds.standard_split()
    assert len(test) == 3 * 2 * 5 and set(test.takes.tolist()) == {0, 1, 2, 3, 4}
    assert len(train) == 3 * 2 * 2 and set(train.takes.tolist()) == {5, 6}
    tr, te = ds.speaker_split("ann")
    assert set(te.speakers) == {"ann"} and set(tr.speakers) == {"bob"}
    with pytest.raises(ValueError, match="choose one of ann, bob"):
        ds.speaker_split("zed")


def test_any_folder_and_8bit_and_uppercase(tmp_path):
    wavfile.write(tmp_path / "3_x_0.WAV", 8000, np.array([128, 255, 0], dtype=np.uint8))
    ds = load_fsdd(tmp_path)
    np.testing.assert_allclose(ds.recordings[0], [0.0, 127 / 128, -1.0])


def test_stereo_refused_or_mixed(tmp_path):
    st = np.stack([_tone(300, 200), np.zeros(200, np.int16)], axis=1)
    wavfile.write(tmp_path / "1_a_0.wav", 8000, st)
    with pytest.raises(ValueError, match="mix='mean'"):
        load_fsdd(tmp_path)
    ds = load_fsdd(tmp_path, mix="mean")
    np.testing.assert_allclose(ds.recordings[0], _tone(300, 200) / 32768.0 / 2, atol=1e-7)


def test_other_rate_refused_or_resampled(tmp_path):
    wavfile.write(tmp_path / "1_a_0.wav", 44100, _tone(441, 44100 // 10, rate=44100))
    with pytest.raises(ValueError, match="resample=True"):
        load_fsdd(tmp_path)
    ds = load_fsdd(tmp_path, resample=True)
    x = ds.recordings[0]
    assert len(x) == 800  # 0.1 s at 8 kHz
    spec = np.abs(np.fft.rfft(x[100:700] * np.hanning(600)))
    peak_hz = np.argmax(spec) * 8000 / 600
    assert abs(peak_hz - 441) < 15


def test_empty_and_truncated_wav(tmp_path):
    wavfile.write(tmp_path / "1_a_0.wav", 8000, np.zeros(0, np.int16))
    with pytest.raises(ValueError, match="no samples"):
        load_fsdd(tmp_path)
    wavfile.write(tmp_path / "1_a_0.wav", 8000, _tone(300, 1000))
    raw = (tmp_path / "1_a_0.wav").read_bytes()
    (tmp_path / "1_a_0.wav").write_bytes(raw[:1000])
    with pytest.raises(ValueError, match="truncated"):
        load_fsdd(tmp_path)
    (tmp_path / "1_a_0.wav").write_bytes(raw[:30])
    with pytest.raises(ValueError, match="1_a_0.wav"):
        load_fsdd(tmp_path)


def test_non_wav_content_and_other_files(tmp_path):
    (tmp_path / "1_a_0.wav").write_bytes(b"this is not audio at all, just text" * 4)
    with pytest.raises(ValueError, match="not a readable WAV"):
        load_fsdd(tmp_path)
    wavfile.write(tmp_path / "1_a_0.wav", 8000, _tone(300, 100))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="skip_other_files=True"):
        load_fsdd(tmp_path)
    assert len(load_fsdd(tmp_path, skip_other_files=True)) == 1


def test_name_without_label_and_empty_folder(tmp_path):
    with pytest.raises(ValueError, match="no .wav files"):
        load_fsdd(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_fsdd(tmp_path / "missing")
    wavfile.write(tmp_path / "hello.wav", 8000, _tone(300, 100))
    with pytest.raises(ValueError, match=r"\{digit\}_\{speaker\}_\{take\}\.wav"):
        load_fsdd(tmp_path)


def test_stdlib_wave_written_file_matches(tmp_path):
    x = _tone(500, 300)
    with wave.open(str(tmp_path / "4_c_9.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(x.tobytes())
    y, rate = read_wav(tmp_path / "4_c_9.wav")
    assert rate == 8000
    np.testing.assert_array_equal(y, x.astype(np.float32) / 32768.0)


def _shared_data():
    env = os.environ.get("NEUROPLASTIC_DATA")
    if env:
        return Path(env)
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return None


def test_shared_fsdd_counts_and_split():
    root = _shared_data()
    if root is None or not (root / "fsdd" / "recordings").is_dir():
        pytest.skip("shared data with fsdd/recordings not found: set NEUROPLASTIC_DATA or place it at ../shared/data")
    ds = load_fsdd(root / "fsdd")
    assert len(ds) == 2500 and len(ds.speaker_names) == 5
    train, test = ds.standard_split()
    assert len(train) == 2250 and len(test) == 250
    assert np.bincount(test.labels).tolist() == [25] * 10
