"""``Model.fit(strategy="ddp")`` on 2 gloo ranks against an independent single-process SGD loop.

With mean-reduced losses and equal shards, DDP's averaged gradient is the gradient of the mean
loss over the union of the ranks' batches, so 2 ranks x batch b must follow the same weight
trajectory as 1 process x batch 2b fed the same sample order (float64: agreement to ~1e-12).
The reference order is torch's own ``DistributedSampler`` with one replica.
"""
from __future__ import annotations

import csv

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DistributedSampler

from neuroplastic.training import CSVLogger, LambdaCallback, Model, ModelCheckpoint, build_model

N, B, EPOCHS, LR, SEED = 48, 4, 3, 0.2, 7


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(N, 6, generator=g, dtype=torch.float64)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long() + (x[:, 2] > 1).long()  # 3 classes
    return x, y


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)).double()


def _reference(x: torch.Tensor, y: torch.Tensor, batch: int, shuffle: bool) -> tuple[dict, list[float], list[float]]:
    """Plain SGD on batches of ``batch`` in DistributedSampler(num_replicas=1) order; epoch loss/accuracy."""
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    sampler = DistributedSampler(range(N), num_replicas=1, rank=0, shuffle=shuffle, seed=SEED)
    losses, accs = [], []
    for epoch in range(EPOCHS):
        sampler.set_epoch(epoch)
        idx = torch.tensor(list(sampler))
        total, correct = 0.0, 0
        for i in range(0, N, batch):
            j = idx[i:i + batch]
            out = net(x[j])
            loss = F.cross_entropy(out, y[j])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(j)
            correct += int((out.argmax(1) == y[j]).sum())
        losses.append(total / N)
        accs.append(correct / N)
    return net.state_dict(), losses, accs


def test_two_ranks_batch_b_equal_one_process_batch_2b(launch):
    x, y = _data()

    def work(rank, world):
        out = {}
        for shuffle in (True, False):
            m = Model(_net(), device="cpu").compile("sgd", "cross_entropy", metrics=["accuracy"], lr=LR)
            h = m.fit(x, y, epochs=EPOCHS, batch_size=B, shuffle=shuffle, seed=SEED, verbose=0, strategy="ddp")
            out[shuffle] = (m.get_weights(), h.history)
        return out

    r0, r1 = launch.ok(work)
    for shuffle in (True, False):
        w0, h0 = r0[shuffle]
        w1, h1 = r1[shuffle]
        assert all(torch.equal(w0[k], w1[k]) for k in w0), "replicas diverged"
        assert h0 == h1, "ranks logged different epoch values"
        ref, losses, accs = _reference(x, y, 2 * B, shuffle)
        for k in ref:
            torch.testing.assert_close(w0[k], ref[k], rtol=0, atol=1e-12)
        assert h0["loss"] == pytest.approx(losses, abs=1e-12)  # exact global means, not rank 0's
        assert h0["accuracy"] == accs
    # the single-process Model.fit with 2b in order gives the same weights as the ddp run in order
    single = Model(_net(), device="cpu").compile("sgd", "cross_entropy", lr=LR)
    single.fit(x, y, epochs=EPOCHS, batch_size=2 * B, shuffle=False, verbose=0)
    for k, v in single.get_weights().items():
        torch.testing.assert_close(r0[False][0][k], v, rtol=0, atol=1e-12)


def test_rank0_writes_files_stop_is_agreed_and_checkpoint_loads_in_one_process(launch, tmp_path):
    x, y = _data()
    ckpt, log = tmp_path / "ckpt", tmp_path / "log.csv"

    def work(rank, world):
        m = build_model("mlp_wide", n_in=6, n_out=3, hidden=[8], device="cpu", seed=0)
        m.compile("sgd", "cross_entropy", lr=LR)
        mc, csvlog = ModelCheckpoint(ckpt, monitor="loss"), CSVLogger(log)
        m.fit(x.float(), y, epochs=2, batch_size=B, seed=SEED, verbose=2, strategy="ddp", callbacks=[mc, csvlog])
        first = (m.get_weights(), [str(p) for p in mc.saved], csvlog._keys)
        # a stop requested on rank 1 alone after batch 2 stops both ranks after batch 3 (the flag
        # travels with an asynchronous all-reduce, read one batch later)
        seen = []
        stop = LambdaCallback(on_train_batch_end=lambda b, logs: (seen.append(b), setattr(m, "stop_training", True)
                                                                  if rank == 1 and b == 2 else None))
        h = m.fit(x.float(), y, epochs=5, batch_size=B, seed=SEED, verbose=0, strategy="ddp", callbacks=[stop])
        return first, (h.epoch, seen), m.get_weights()

    runs = launch.ok(work)
    (w0, saved0, keys0), epochs0, after0 = runs[0]
    (w1, saved1, keys1), epochs1, after1 = runs[1]
    assert saved0 == [str(ckpt), str(ckpt)] and saved1 == []  # rank 1 never ran the writers
    assert keys0 is not None and keys1 is None
    with open(log, newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 3 and rows[0][0] == "epoch"  # header + one row per epoch, written once
    loaded = Model.load(ckpt)
    for k, v in loaded.get_weights().items():
        assert torch.equal(v, w0[k]) and torch.equal(v, w1[k])
    assert epochs0 == epochs1 == ([0], [0, 1, 2, 3])
    assert all(torch.equal(after0[k], after1[k]) for k in after0)
