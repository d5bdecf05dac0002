"""Plasticity on 2 ranks x batch b equals 1 process x batch 2b, and the replicas stay identical.

Every rule's ``reduction="mean"`` update is a batch mean of per-sample terms, so the average of
the two ranks' updates (on identical weights) is the update on the union of their batches. The
reference runs the same rule in one process on the concatenated batch (float64).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from neuroplastic.distributed import (
    SyncPlastic,
    convert_sync_plastic,
    init_distributed,
    shared_state_fields,
    sync_plastic_update,
)
from neuroplastic.plasticity import Plastic, get_rule

B, STEPS, N_IN, N_OUT, T = 3, 6, 5, 4, 8
RULES = {
    "oja": dict(lr=0.05),
    "bcm": dict(lr=0.05, tau_theta=5e-3, dt=1e-3),
    "stdp": dict(a_plus=0.02, a_minus=0.021),
}


def _stream() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return {
        "x": torch.rand(STEPS, 2 * B, N_IN, generator=g, dtype=torch.float64),
        "pre": (torch.rand(STEPS, T, 2 * B, N_IN, generator=g) < 0.3).double(),
        "post": (torch.rand(STEPS, T, 2 * B, N_OUT, generator=g) < 0.3).double(),
        "target": torch.randn(STEPS, 2 * B, N_OUT, generator=g, dtype=torch.float64),
    }


def _conn(name: str, update: str = "inplace") -> Plastic:
    torch.manual_seed(0)
    layer = nn.Linear(N_IN, N_OUT, bias=False).double()
    with torch.no_grad():
        layer.weight.uniform_(0.1, 0.6)
    return Plastic(layer, get_rule(name, reduction="mean", **RULES[name]), update=update)


def _train(conn: Plastic, data: dict[str, torch.Tensor], rows: slice, apply: str = "step") -> tuple[torch.Tensor, object]:
    """Rate rules learn from (x, W x); STDP from given spike trains, one presentation per step
    (weight updated every time step, or once per presentation with ``apply="end"``)."""
    state = None
    for k in range(STEPS):
        if conn.rule.name == "stdp":
            conn.learn_sequence(data["pre"][k][:, rows], data["post"][k][:, rows], apply=apply)
        else:
            x = data["x"][k][rows]
            state = conn.update(x, conn(x).detach(), state)
    return conn.weight.detach().clone(), state


def test_sync_plastic_matches_double_batch_and_keeps_replicas_identical(launch):
    data = _stream()

    def work(rank, world):
        init_distributed()
        out = {}
        for name in RULES:
            net = convert_sync_plastic(nn.Sequential(_conn(name)))
            assert isinstance(net[0], SyncPlastic)
            out[name] = _train(net[0], data, slice(rank * B, (rank + 1) * B))
        out["stdp-end"] = _train(convert_sync_plastic(_conn("stdp")), data, slice(rank * B, (rank + 1) * B), "end")
        # a hand-written loop with the helper: Hebb on a raw weight tensor
        w = torch.full((N_OUT, N_IN), 0.2, dtype=torch.float64)
        hebb = get_rule("hebb", lr=0.1, reduction="mean")
        for k in range(STEPS):
            x = data["x"][k][rank * B:(rank + 1) * B]
            dw, _ = hebb.step(x, x @ w.T, w, None)
            w += sync_plastic_update(dw)
        out["hebb"] = (w, None)
        return out

    r0, r1 = launch.ok(work)
    for name in [*RULES, "stdp-end"]:
        w0, s0 = r0[name]
        w1, s1 = r1[name]
        assert torch.equal(w0, w1), f"{name}: replicas diverged"
        rule = name.split("-")[0]
        ref_w, ref_s = _train(_conn(rule), data, slice(0, 2 * B), "end" if name.endswith("end") else "step")
        assert not torch.allclose(ref_w, _conn(rule).weight), f"{name}: the weights did not move"
        torch.testing.assert_close(w0, ref_w, rtol=0, atol=1e-12)
        if name == "bcm":  # the shared threshold is averaged too, so it equals the 2b one
            torch.testing.assert_close(s0.theta, ref_s.theta, rtol=0, atol=1e-12)
            assert torch.equal(s0.theta, s1.theta)
    w = torch.full((N_OUT, N_IN), 0.2, dtype=torch.float64)
    hebb = get_rule("hebb", lr=0.1, reduction="mean")
    for k in range(STEPS):
        dw, _ = hebb.step(data["x"][k], data["x"][k] @ w.T, w, None)
        w += dw
    assert torch.equal(r0["hebb"][0], r1["hebb"][0])
    torch.testing.assert_close(r0["hebb"][0], w, rtol=0, atol=1e-12)


def test_grad_policy_is_averaged_by_ddp_backward(launch):
    """update="grad" writes -dw into weight.grad before backward(); DDP averages it with the
    surrogate gradient, so a hybrid step on 2 ranks x b equals one on 2b."""
    data = _stream()

    def step(conn: Plastic, model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, target: torch.Tensor) -> None:
        opt.zero_grad()
        y = model(x)
        conn.update(x, y.detach())  # -lr*dw into weight.grad, before backward
        F.mse_loss(y, target).backward()
        opt.step()

    def work(rank, world):
        init_distributed()
        conn = _conn("oja", update="grad")
        model = DDP(conn)
        opt = torch.optim.SGD(conn.parameters(), lr=0.5)
        rows = slice(rank * B, (rank + 1) * B)
        for k in range(STEPS):
            step(conn, model, opt, data["x"][k][rows], data["target"][k][rows])
        return conn.weight.detach().clone()

    w0, w1 = launch.ok(work)
    assert torch.equal(w0, w1)
    conn = _conn("oja", update="grad")
    opt = torch.optim.SGD(conn.parameters(), lr=0.5)
    for k in range(STEPS):
        step(conn, conn, opt, data["x"][k], data["target"][k])
    torch.testing.assert_close(w0, conn.weight.detach(), rtol=0, atol=1e-12)


def test_shared_state_fields_tell_shared_from_per_sample_state():
    w = torch.zeros(N_OUT, N_IN)
    assert shared_state_fields(get_rule("bcm"), w) == ("theta",)
    assert shared_state_fields(get_rule("stdp"), w) == ()
    assert shared_state_fields(get_rule("oja"), w) == ()


def test_convert_keeps_parameters_and_is_identity_without_a_group():
    conn = _conn("oja")
    net = nn.Sequential(nn.Identity(), nn.Sequential(conn))
    params = [id(p) for p in net.parameters()]
    net = convert_sync_plastic(net)
    assert isinstance(net[1][0], SyncPlastic) and [id(p) for p in net.parameters()] == params
    data = _stream()
    w_sync, _ = _train(net[1][0], data, slice(0, 2 * B))
    w_ref, _ = _train(_conn("oja"), data, slice(0, 2 * B))
    assert torch.equal(w_sync, w_ref)
    dw = torch.ones(2, 2)
    assert sync_plastic_update(dw) is dw and torch.equal(dw, torch.ones(2, 2))
