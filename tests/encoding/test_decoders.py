"""Decoders by hand."""
from __future__ import annotations

import pytest
import torch

from neuroplastic.encoding import decode_membrane, first_spike_time, spike_count, spike_rate


def spikes_by_hand() -> torch.Tensor:
    s = torch.zeros(5, 2, 3)
    s[1, 0, 0] = s[3, 0, 0] = 1  # neuron (0,0): steps 1, 3
    s[0, 1, 2] = s[4, 1, 2] = s[2, 1, 2] = 1  # neuron (1,2): steps 0, 2, 4
    s[4, 0, 1] = 1  # neuron (0,1): step 4
    return s


def test_spike_count_and_rate() -> None:
    s = spikes_by_hand()
    assert spike_count(s).tolist() == [[2, 1, 0], [0, 0, 3]]
    torch.testing.assert_close(spike_rate(s), torch.tensor([[0.4, 0.2, 0.0], [0.0, 0.0, 0.6]]))


def test_first_spike_time_with_no_spike_equal_to_T() -> None:
    s = spikes_by_hand()
    assert first_spike_time(s).tolist() == [[1, 4, 5], [5, 5, 0]]
    assert first_spike_time(s.bool()).tolist() == [[1, 4, 5], [5, 5, 0]]
    assert first_spike_time(s.double()).tolist() == [[1, 4, 5], [5, 5, 0]]


def test_decode_membrane_modes() -> None:
    v = torch.tensor([[[0.0, 1.0]], [[2.0, -1.0]], [[-1.0, 0.5]]])  # [T=3, B=1, C=2]
    assert decode_membrane(v).tolist() == [[2.0, 1.0]]
    assert decode_membrane(v, "max").tolist() == [[2.0, 1.0]]
    torch.testing.assert_close(decode_membrane(v, "mean"), torch.tensor([[1.0 / 3, 0.5 / 3]]))
    assert decode_membrane(v, "last").tolist() == [[-1.0, 0.5]]
    with pytest.raises(ValueError, match="unknown membrane decode mode 'min': choose one of"):
        decode_membrane(v, "min")


def test_decoders_reject_tensors_without_time_axis() -> None:
    with pytest.raises(ValueError, match=r"time-first tensor \[T, B, ...\].*add a time axis"):
        spike_count(torch.ones(4))
    with pytest.raises(ValueError, match="time-first"):
        first_spike_time(torch.ones(4))
