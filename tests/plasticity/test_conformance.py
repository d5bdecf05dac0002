"""One conformance suite that every registered plasticity rule passes."""
from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest
import torch
from torch import nn

from neuroplastic.plasticity import Plastic, Rule, available_rules, get_rule, rule_from_config

RULES = available_rules()
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
B, N_IN, N_OUT = 5, 4, 3
# settings under which a batch update is exactly the sum of per-sample updates (the max-abs
# normalisation of the Krotov-Hopfield reference code is applied to the whole batch instead)
LINEAR_IN_BATCH = {"krotov": {"normalize": False}}


def _inputs(dtype: torch.dtype, device: str, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    pre = (torch.rand(B, N_IN, generator=g) < 0.5).to(dtype)
    post = (torch.rand(B, N_OUT, generator=g) < 0.5).to(dtype)
    w = torch.rand(N_OUT, N_IN, generator=g).to(dtype)
    return pre.to(device), post.to(device), w.to(device)


def _leaves(state) -> list[torch.Tensor]:
    return [t for t in state if isinstance(t, torch.Tensor)]


def _warm_state(rule: Rule, pre, post, w):
    _, st = rule.step(pre, post, w, None, modulator=1.0)
    _, st = rule.step(post.new_ones(pre.shape) - pre, post, w, st, modulator=1.0)
    return st


def test_registry_lists_every_rule_family() -> None:
    assert {"seed", "hebb", "oja", "bcm", "krotov", "softhebb", "stdp", "triplet_stdp", "rstdp", "scaling"} <= set(RULES)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", RULES)
def test_contract(name: str, dtype: torch.dtype, device: str) -> None:
    rule = get_rule(name)
    pre, post, w = _inputs(dtype, device)
    state0 = rule.init_state(pre, post, w)
    assert isinstance(state0, tuple) and hasattr(type(state0), "_fields"), "state must be a NamedTuple"
    for t in _leaves(state0):
        assert t.dtype == dtype and t.device.type == device
    st = _warm_state(rule, pre, post, w)
    snapshot = [x.clone() for x in (pre, post, w, *_leaves(st))]
    wp = nn.Parameter(w.clone())
    dw, st2 = rule.step(pre, post, wp, st, modulator=torch.linspace(0.5, 1.5, B, dtype=dtype, device=device))
    assert dw.shape == w.shape and dw.dtype == dtype and dw.device.type == device
    assert not dw.requires_grad and dw.grad_fn is None
    assert bool(torch.isfinite(dw).all())
    assert type(st2) is type(st)
    for before, after in zip(snapshot, (pre, post, w, *_leaves(st))):
        assert torch.equal(before, after), "a rule must not mutate its inputs or state"
    # state=None is the same as init_state
    a, sa = rule.step(pre, post, w, None, modulator=1.0)
    b, sb = rule.step(pre, post, w, state0, modulator=1.0)
    torch.testing.assert_close(a, b)
    for x, y in zip(_leaves(sa), _leaves(sb)):
        torch.testing.assert_close(x, y)


@pytest.mark.parametrize("name", RULES)
def test_reduction_semantics_mean_sum_none_and_per_sample_loop(name: str) -> None:
    settings = LINEAR_IN_BATCH.get(name, {})
    pre, post, w = _inputs(torch.float64, "cpu", seed=1)
    st = _warm_state(get_rule(name, **settings), pre, post, w)
    m = torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0], dtype=torch.float64)
    out = {r: get_rule(name, reduction=r, **settings).step(pre, post, w, st, modulator=m)[0] for r in ("none", "sum", "mean")}
    assert out["none"].shape == (B, N_OUT, N_IN)
    torch.testing.assert_close(out["sum"], out["none"].sum(0))
    torch.testing.assert_close(out["mean"], out["none"].mean(0))
    one = get_rule(name, reduction="sum", **settings)
    for b in range(B):  # per-sample state slices (batch-shared states such as BCM's theta stay whole)
        st_b = type(st)(*[t[b:b + 1] if t.shape[0] == B else t for t in st])
        dw_b, _ = one.step(pre[b:b + 1], post[b:b + 1], w, st_b, modulator=m[b:b + 1])
        torch.testing.assert_close(dw_b, out["none"][b])
    # the modulator multiplies each sample's contribution (per neuron with [B, n_out])
    base = get_rule(name, reduction="none", **settings).step(pre, post, w, st, modulator=torch.ones(B, dtype=torch.float64))[0]
    torch.testing.assert_close(out["none"], base * m.reshape(B, 1, 1))
    mn = torch.rand(B, N_OUT, dtype=torch.float64)
    per_neuron = get_rule(name, reduction="none", **settings).step(pre, post, w, st, modulator=mn)[0]
    torch.testing.assert_close(per_neuron, base * mn.unsqueeze(2))


@pytest.mark.parametrize("name", RULES)
@pytest.mark.parametrize("conv, rate", [(False, 0.5), (False, 0.02), (True, 0.5)])
def test_inplace_bounds_hold(name: str, conv: bool, rate: float) -> None:
    torch.manual_seed(0)
    layer = nn.Conv2d(2, 3, 3, bias=False) if conv else nn.Linear(40, 30, bias=False)
    conn = Plastic(layer, get_rule(name), lr=50.0, wmin=0.0, wmax=1.0)
    state = None
    for _ in range(4):
        pre = (torch.rand(2, 2, 5, 5) < rate).float() if conv else (torch.rand(2, 40) < rate).float()
        post = (torch.rand(2, 3, 3, 3) < rate).float() if conv else (torch.rand(2, 30) < rate).float()
        state = conn.update(pre, post, state, modulator=1.0)
    assert conn.weight.min() >= 0.0 and conn.weight.max() <= 1.0
    assert conn.weight.shape == layer.weight.shape


@pytest.mark.parametrize("name", RULES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("rate", [0.5, 0.03])
def test_fused_accumulate_equals_step(name: str, reduction: str, rate: float) -> None:
    """``accumulate_`` (event-driven for spike rules when spikes are sparse) == ``target += alpha * dw``."""
    g = torch.Generator().manual_seed(7)
    pre = (torch.rand(3, 50, generator=g) < rate).double()
    post = (torch.rand(3, 40, generator=g) < rate).double()
    post[0, 1] = 1.0  # at least one spike on each side
    pre[0, 2] = 1.0
    w = torch.rand(40, 50, generator=g, dtype=torch.float64)
    rule = get_rule(name, reduction=reduction)
    st = _warm_state(rule, pre, post, w)
    m = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)
    dw, st_a = rule.step(pre, post, w, st, modulator=m)
    target = w.clone()
    st_b, touched = rule.accumulate_(target, pre, post, target, st, alpha=0.3, modulator=m)  # target is the weight
    torch.testing.assert_close(target, w + 0.3 * dw)
    for x, y in zip(_leaves(st_a), _leaves(st_b)):
        torch.testing.assert_close(x, y)
    if touched is not None:  # only the reported rows/cols changed
        changed = (target != w)
        mask = torch.zeros_like(changed)
        mask[touched[0]] = True
        mask[:, touched[1]] = True
        assert not bool((changed & ~mask).any())


@pytest.mark.parametrize("name", RULES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_sequence_equals_loop_of_steps(name: str, reduction: str) -> None:
    """``sequence`` (vectorised over time where the rule allows) == sum of ``step`` with the weight fixed."""
    g = torch.Generator().manual_seed(3)
    pre = (torch.rand(70, B, N_IN, generator=g) < 0.3).double()  # > one 64-step scan chunk
    post = (torch.rand(70, B, N_OUT, generator=g) < 0.3).double()
    w = torch.rand(N_OUT, N_IN, generator=g, dtype=torch.float64)
    rule = get_rule(name, reduction=reduction)
    st0 = _warm_state(rule, pre[0], post[0], w)
    for m in (None, torch.linspace(-1.0, 2.0, B, dtype=torch.float64)):
        dw, st = rule.sequence(pre, post, w, st0, modulator=m)
        total, s = 0.0, st0
        for t in range(pre.shape[0]):
            d, s = rule.step(pre[t], post[t], w, s, modulator=m)
            total = total + d
        torch.testing.assert_close(dw, total)
        for x, y in zip(_leaves(st), _leaves(s)):
            torch.testing.assert_close(x, y)
    with pytest.raises(ValueError, match="time-first"):
        rule.sequence(pre[0], post[0], w)


@pytest.mark.parametrize("name", RULES)
def test_settings_roundtrip_copy_and_pickle(name: str) -> None:
    rule = get_rule(name)
    assert rule_from_config(rule.get_config()) == rule
    assert copy.deepcopy(rule) == rule
    assert pickle.loads(pickle.dumps(rule)) == rule
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.reduction = "sum"  # settings are immutable: use dataclasses.replace


@pytest.mark.parametrize("name", RULES)
def test_shape_and_state_errors_name_the_fix(name: str) -> None:
    rule = get_rule(name)
    pre, post, w = _inputs(torch.float32, "cpu")
    with pytest.raises(ValueError, match="is expected for weight"):
        rule.step(pre[:, :2], post, w)
    with pytest.raises(ValueError, match="input batch"):
        rule.step(pre, post[:2], w)
    with pytest.raises(ValueError, match="modulator has shape"):
        rule.step(pre, post, w, modulator=torch.ones(B + 1))
    st = rule.init_state(pre, post, w)
    if any(t.shape[0] == B for t in _leaves(st)):  # rules with per-sample traces
        with pytest.raises(ValueError, match="pass state=None"):
            rule.step(pre[:2], post[:2], w, st)
