"""Contract: the fused CPU path of the recurrent ALIF layer gives the reference loop's outputs
and gradients (all parameters, with masks, with and without recurrence, every surrogate)."""
from __future__ import annotations

import pytest
import torch

from neuroplastic.neurons.surrogate import Surrogate
from neuroplastic.temporal import RSNN, ALIFParameters, alif_recurrent_reference
from neuroplastic.temporal._fused import alif_recurrent_fused


def _grads(fn, i_ff, w, params, mask, sg, g_out):
    i_ff = i_ff.clone().requires_grad_(True)
    w = None if w is None else w.clone().requires_grad_(True)
    params.zero_grad()
    out = fn(i_ff, w, params.tensors(), mask, sg)
    (out * g_out).sum().backward()
    leaves = [i_ff.grad] + ([] if w is None else [w.grad])
    return out.detach(), leaves + [p.grad.clone() for p in params.parameters()]


@pytest.mark.parametrize("surrogate", ["fast_sigmoid", "arctan", "triangle", "sigmoid"])
@pytest.mark.parametrize("recurrent", [True, False])
@pytest.mark.parametrize("holes", [False, True])
def test_fused_matches_reference(surrogate, recurrent, holes):
    torch.manual_seed(0)
    T, B, H = 25, 4, 7
    params = ALIFParameters(H, tau_mem=(5e-3, 40e-3), tau_adapt=0.1, beta=0.3, v_th=0.6, learn_beta=True, dt=1e-2).double()
    with torch.no_grad():
        params.raw_v_th.add_(0.1 * torch.randn(H, dtype=torch.float64))
    i_ff = 2.0 * torch.randn(T, B, H, dtype=torch.float64)
    w = 0.5 * torch.randn(H, H, dtype=torch.float64) if recurrent else None
    mask = torch.ones(T, B, dtype=torch.bool)
    mask[18:, 1] = False
    mask[9:, 3] = False
    if holes:  # not trailing padding: the general path that freezes the state
        mask[3:6, 0] = False
    g_out = torch.randn(T, B, H, dtype=torch.float64)
    sg = Surrogate(surrogate)
    out_r, g_r = _grads(alif_recurrent_reference, i_ff, w, params, mask, sg, g_out)
    out_f, g_f = _grads(alif_recurrent_fused, i_ff, w, params, mask, sg, g_out)
    assert out_r.sum() > 10  # spikes happened
    assert torch.equal(out_r, out_f)
    for a, b in zip(g_r, g_f):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)


def test_rsnn_backends_agree_end_to_end():
    torch.manual_seed(0)
    ref = RSNN(6, [10, 8], 3, dt=1e-2)
    fused = RSNN(6, [10, 8], 3, dt=1e-2, backend="fused")
    fused.load_state_dict(ref.state_dict())
    with torch.no_grad():
        for net in (ref, fused):
            net.ff[0].weight.mul_(5.0)
    x = (torch.rand(30, 5, 6) < 0.3).float()
    y = torch.tensor([0, 1, 2, 0, 1])
    grads = []
    for net in (ref, fused):
        net.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        grads.append([p.grad for p in net.parameters() if p.grad is not None])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
