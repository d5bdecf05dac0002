"""Audio front end: mel filterbank against the mel formula, tones land in their channel, silence
is silent, hand-computed spike codes, padding and masks."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroplastic.encoding.audio import (
    AudioEncoder,
    LogMelConfig,
    hz_to_mel,
    log_mel,
    mel_filterbank,
    mel_to_hz,
    pad_batch,
    spike_encode,
)


def test_mel_scale_round_trip_and_htk_values():
    assert float(hz_to_mel(700.0)) == pytest.approx(2595.0 * np.log10(2.0))
    assert float(hz_to_mel(1000.0)) == pytest.approx(1000.0, abs=0.1)  # the scale's anchor
    f = np.array([0.0, 123.0, 3999.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(f)), f, atol=1e-9)


def test_filterbank_triangles_peak_at_centres():
    n_fft, sr, n = 512, 8000, 20
    fb = mel_filterbank(n, n_fft, sr, 0.0, 4000.0)
    assert fb.shape == (n, 257) and fb.min() >= 0 and fb.max() <= 1.0 + 1e-6
    centres = mel_to_hz(np.linspace(hz_to_mel(0), hz_to_mel(4000), n + 2))[1:-1]
    peak_bins = fb.argmax(axis=1)
    np.testing.assert_allclose(peak_bins * sr / n_fft, centres, atol=sr / n_fft)
    with pytest.raises(ValueError, match="raise n_fft"):
        mel_filterbank(200, 64, sr)


@pytest.mark.parametrize("freq", [300.0, 1000.0, 2500.0])
def test_pure_tone_lands_in_its_channel(freq):
    cfg = LogMelConfig(n_mels=32, fmin=0.0)
    t = np.arange(4000) / cfg.sample_rate
    feats = log_mel(np.sin(2 * np.pi * freq * t), cfg)
    assert feats.shape == (1 + (4000 - cfg.win_length) // cfg.hop_length, 32)
    centres = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(4000.0), 34))[1:-1]
    expected = int(np.argmin(np.abs(centres - freq)))
    assert set(feats.argmax(axis=1).tolist()) == {expected}


def test_silence_gives_floor_and_no_spikes():
    enc_cfg = LogMelConfig()
    feats = log_mel(np.zeros(3000), enc_cfg)
    np.testing.assert_allclose(feats, np.log(enc_cfg.eps), rtol=1e-6)
    for method in ("threshold", "level_crossing", "send_on_delta"):
        enc = AudioEncoder(method=method)
        spikes, mask = enc([np.zeros(3000), np.zeros(1200)])
        assert spikes.shape == (mask.shape[0], 2, enc.n_outputs)
        assert spikes.sum() == 0, method


def test_tone_onset_spikes_in_tone_channel_only_change_codes():
    cfg = LogMelConfig(n_mels=32, fmin=0.0)
    x = np.sin(2 * np.pi * 1000.0 * np.arange(4000) / 8000)
    enc = AudioEncoder(mel=cfg, method="level_crossing", delta=2.0)
    s, _ = enc([x])
    on = s[:, 0, :32]
    ch = int(log_mel(x, cfg)[5].argmax())
    assert on[0, ch] == 1  # the onset, coded from the silence floor
    assert on[1:].sum() == 0 and s[:, 0, 32:].sum() == 0  # a steady tone sends nothing more
    assert on[0, : ch - 6].sum() == 0 and on[0, ch + 6:].sum() == 0  # far channels stay silent


def test_pad_batch_shapes_and_mask():
    a, b = np.ones((3, 2), np.float32), 2 * np.ones((5, 2), np.float32)
    x, m = pad_batch([a, b], pad_value=-1.0)
    assert x.shape == (5, 2, 2) and m.tolist() == [[True, True]] * 3 + [[False, True]] * 2
    assert x[3:, 0].eq(-1).all() and x[:, 1].eq(2).all()
    with pytest.raises(ValueError, match="sequence 1"):
        pad_batch([a, np.ones((3, 4))])


def test_threshold_code_hand_computed():
    x = torch.tensor([[0.5], [1.5], [2.5]]).reshape(3, 1, 1)
    s = spike_encode(x, "threshold", levels=[1.0, 2.0])
    assert s[:, 0].tolist() == [[0, 0], [1, 0], [1, 1]]


def test_level_crossing_hand_computed_and_mask():
    x = torch.tensor([0.2, 1.1, 3.4, 3.0, 0.5, 0.5]).reshape(6, 1, 1)
    s = spike_encode(x, "level_crossing", delta=1.0, rest=0.0)
    assert s[:, 0, 0].tolist() == [0, 1, 1, 0, 0, 0]  # ON
    assert s[:, 0, 1].tolist() == [0, 0, 0, 0, 1, 0]  # OFF (3.0 -> 0.5 crosses 2 and 1)
    mask = torch.tensor([True, True, True, False, False, False]).reshape(6, 1)
    s = spike_encode(x, "level_crossing", delta=1.0, rest=0.0, mask=mask)
    assert s[3:].sum() == 0


def test_send_on_delta_matches_reference_rule():
    x = torch.tensor([0.0, 0.6, 1.2, 2.9, 2.0, 2.0]).reshape(6, 1, 1)
    s = spike_encode(x, "send_on_delta", delta=1.0, rest=0.0)
    # reference level: 0 -> 0 -> 1 (ON at 1.2) -> 2 (ON, slew one step) -> 2 -> 2
    assert s[:, 0, 0].tolist() == [0, 0, 1, 1, 0, 0]
    assert s[:, 0, 1].tolist() == [0, 0, 0, 0, 0, 0]


def test_bad_inputs_name_the_fix():
    with pytest.raises(ValueError, match="mono"):
        log_mel(np.zeros((100, 2)))
    with pytest.raises(ValueError, match="choose one of"):
        spike_encode(torch.zeros(2, 1, 1), "bogus")
    with pytest.raises(ValueError, match=r"\[T, B, C\]"):
        spike_encode(torch.zeros(2, 1), "threshold")
