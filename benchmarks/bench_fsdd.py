"""FSDD spoken digits: recurrent adaptive-LIF network vs LSTM, GRU, 1-D CNN and the founding MLP.

Every model sees the same front end (:mod:`neuroplastic.encoding.audio`: 40 log-mel channels,
25 ms Hann window, 10 ms hop, standardised per channel with the training set's statistics) and
the same split: the standard one (takes 0-4 of every speaker and digit are the test set) and
leave-one-speaker-out (LOSO, 5 folds). By default the spiking network (one recurrent ALIF layer
of ``--hidden`` neurons, learnable time constants and thresholds, LI readout maxed over time)
takes the standardised log-mel frames as input currents (its first layer pays MACs, everything
after it is spike-driven); ``--rsnn-input threshold`` gives it spikes only (each channel
threshold-coded at ``--levels``, a thermometer code). Each model trains with Adam, a cosine schedule and the same number of
epochs and batch size (``--epochs``, ``--batch``); the same budget is given to all.

Energy per sample is counted here, per real (unpadded) frame, with the 45 nm costs of
:class:`neuroplastic.compress.EnergyModel` (MAC 4.6 pJ, AC 0.9 pJ, 32-bit SRAM read 5 pJ):
synaptic ops (ACs driven by spikes for the RSNN, MACs for the rest), neuron / gate updates and
one memory read per synaptic op and per state word. ``neuroplastic.profile`` is not used: it
does not know ``nn.LSTM``/``nn.GRU``/``nn.Conv1d`` or the temporal RSNN, and it counts padded
steps.

Features are cached under ``--cache`` (default ``/tmp/neuroplastic_fsdd``), never in the repo.

    OMP_NUM_THREADS=1 python benchmarks/bench_fsdd.py --protocol standard
    OMP_NUM_THREADS=1 python benchmarks/bench_fsdd.py --protocol loso --epochs 15
    OMP_NUM_THREADS=1 python benchmarks/bench_fsdd.py --speed     # fused vs reference RSNN layer
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from neuroplastic.datasets import data_root, load_fsdd
from neuroplastic.encoding.audio import LogMelConfig, log_mel, pad_batch, spike_encode
from neuroplastic.temporal import RSNN

MAC, AC, READ = 4.6, 0.9, 5.0   # pJ, EnergyModel() defaults


# ----------------------------------------------------------------------------- features
def features(root: Path, cfg: LogMelConfig, cache: Path):
    key = hashlib.sha1(json.dumps(cfg.__dict__, sort_keys=True, default=str).encode()).hexdigest()[:12]
    f = cache / f"fsdd_logmel_{key}.npz"
    if f.is_file():
        z = np.load(f)
        off, frames = z["offsets"], z["frames"]   # read each array once (NpzFile re-reads per access)
        feats = [frames[off[i]:off[i + 1]] for i in range(len(off) - 1)]
        return feats, z["labels"], [str(s) for s in z["speakers"]], z["takes"]
    ds = load_fsdd(root)
    feats = [log_mel(r, cfg) for r in ds.recordings]
    off = np.cumsum([0] + [len(x) for x in feats])
    cache.mkdir(parents=True, exist_ok=True)
    tmp = f.with_suffix(".tmp.npz")
    np.savez(tmp, frames=np.concatenate(feats), offsets=off, labels=ds.labels,
             speakers=np.array(ds.speakers), takes=ds.takes)
    tmp.replace(f)
    return feats, ds.labels, list(ds.speakers), ds.takes


class Batches:
    """Length-bucketed batches of standardised features (padded, time first, with masks)."""

    def __init__(self, feats, labels, idx, mean, std, batch, levels=None, spikes=False, norm="global"):
        # global: the training set's channel means; utterance: each recording's own channel means
        # (cepstral mean normalisation, removes a fixed per-speaker/channel colouring)
        self.items = [((feats[i] - (feats[i].mean(0) if norm == "utterance" else mean)) / std).astype(np.float32)
                      for i in idx]
        self.y = torch.as_tensor(np.asarray(labels)[idx]).long()
        self.batch, self.levels, self.spikes = batch, levels, spikes
        self.order = np.argsort([len(x) for x in self.items], kind="stable")
        self._cache: dict[int, tuple] = {}

    def _make(self, sel):
        x, m = pad_batch([self.items[i] for i in sel], pad_value=-3.0)
        if self.levels is not None:
            x = spike_encode(x, "threshold", mask=m, levels=self.levels)
        return x, m, self.y[sel]

    def epoch(self, rng=None):
        chunks = [self.order[i:i + self.batch] for i in range(0, len(self.order), self.batch)]
        ids = list(range(len(chunks)))
        if rng is not None:
            rng.shuffle(ids)
        for j in ids:
            if j not in self._cache:
                self._cache[j] = self._make(chunks[j])
            yield self._cache[j]

    def __len__(self):
        return (len(self.items) + self.batch - 1) // self.batch


# ----------------------------------------------------------------------------- models
class RNNClassifier(nn.Module):
    def __init__(self, kind, n_in, hidden, n_out):
        super().__init__()
        self.kind = kind
        self.rnn = (nn.LSTM if kind == "lstm" else nn.GRU)(n_in, hidden)
        self.out = nn.Linear(hidden, n_out)

    def forward(self, x, m):
        lengths = m.sum(0).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
        _, h = self.rnn(packed)
        h = h[0] if self.kind == "lstm" else h
        return self.out(h[-1])


class CNN1d(nn.Module):
    def __init__(self, n_in, width, n_out, k=5):
        super().__init__()
        self.k, self.width = k, width
        self.c1 = nn.Conv1d(n_in, width, k, padding=k // 2)
        self.c2 = nn.Conv1d(width, width, k, padding=k // 2, stride=2)
        self.c3 = nn.Conv1d(width, width, k, padding=k // 2, stride=2)
        self.out = nn.Linear(width, n_out)

    def forward(self, x, m):
        h = x.permute(1, 2, 0)                      # [B, C, T]
        mm = m.t().unsqueeze(1).float()
        h = torch.relu(self.c1(h)) * mm
        for c in (self.c2, self.c3):
            h = torch.relu(c(h))
            mm = mm[..., ::2][..., :h.shape[-1]]
            h = h * mm
        return self.out(h.sum(-1) / mm.sum(-1).clamp_min(1.0))


class MeanMLP(nn.Module):
    """The founding MLP (Dense(4, relu) -> Dense(4, relu) -> Dense(C)) or a wide one on per-channel
    time means and standard deviations."""

    def __init__(self, n_in, hidden, n_out):
        super().__init__()
        layers, d = [], 2 * n_in
        for h in hidden:
            layers += [nn.Linear(d, h), nn.ReLU()]
            d = h
        self.net = nn.Sequential(*layers, nn.Linear(d, n_out))
        self.sizes = [2 * n_in, *hidden, n_out]

    def forward(self, x, m):
        mm = m.unsqueeze(-1).float()
        n = mm.sum(0).clamp_min(1.0)
        mu = (x * mm).sum(0) / n
        sd = (((x - mu) ** 2 * mm).sum(0) / n).sqrt()
        return self.net(torch.cat([mu, sd], -1))


class SpikingNet(nn.Module):
    def __init__(self, n_in, hidden, n_out, **kw):
        super().__init__()
        self.net = RSNN(n_in, hidden, n_out, **kw)

    def forward(self, x, m):
        return self.net(x, m)


# ----------------------------------------------------------------------------- energy
def energy_rnn(model: RNNClassifier, frames: float) -> dict:
    h, n_in = model.rnn.hidden_size, model.rnn.input_size
    gates = 4 if model.kind == "lstm" else 3
    macs = frames * gates * h * (n_in + h) + h * 10
    # gates: sigmoid/tanh 4 MACs + 1 add each (ACTIVATION_OPS "smooth"); LSTM c/h update 3 MACs, GRU 3 MACs
    act = frames * (gates + 1) * h if model.kind == "lstm" else frames * gates * h
    macs += frames * 3 * h + 4 * act
    adds = act + frames * 2 * gates * h           # two biases per gate (PyTorch layout)
    reads = frames * gates * h * (n_in + h) + frames * (n_in + 2 * h) + h * 10
    return _price(macs, 0.0, adds, reads)


def energy_cnn(model: CNN1d, frames: float, n_in: int) -> dict:
    w, k = model.width, model.k
    t1, t2, t3 = frames, math.ceil(frames / 2), math.ceil(frames / 4)
    macs = t1 * w * n_in * k + t2 * w * w * k + t3 * w * w * k + w * 10
    adds = (t1 + t2 + t3) * w * 2
    return _price(macs, 0.0, adds, macs + (t1 * n_in + (t2 + t3) * w))


def energy_mlp(model: MeanMLP, frames: float, n_in: int) -> dict:
    s = model.sizes
    macs = sum(a * b for a, b in zip(s[:-1], s[1:])) + 2 * frames * n_in  # mean and variance pass
    adds = sum(s[1:])
    return _price(macs, 0.0, adds, macs + frames * n_in)


@torch.no_grad()
def energy_rsnn(model: SpikingNet, data: Batches) -> dict:
    """Counted from the spikes of the test set: events x fan-out accumulates."""
    net = model.net
    acs = macs = adds = reads = 0.0
    n, rates = 0, []
    for x, m, _ in data.epoch():
        out = net.run(x, m)
        frames = float(m.sum())
        rates.append(float(sum(float(s.sum()) for s in out.spikes)) / (frames * sum(net.sizes)))
        n += x.shape[1]
        ins = [x] + list(out.spikes)
        for li, h in enumerate(net.sizes):
            if li == 0 and not data.spikes:             # analog input currents: dense MACs on real frames
                macs += frames * x.shape[-1] * h
                reads += frames * x.shape[-1] * h + frames * x.shape[-1]
            else:
                ev_in = float(ins[li].sum())
                acs += ev_in * h
                reads += ev_in * h + ev_in
            if net.recurrent:
                ev = float(out.spikes[li].sum())
                acs += ev * h
                reads += ev * h + ev
            macs += 3 * h * frames                     # ALIF: leak, adaptation decay, threshold
            adds += h * frames + float(out.spikes[li].sum())   # compare + reset per spike
            adds += h * frames                          # bias
            reads += 2 * h * frames + h * frames        # v, a, bias
        k = net.out.out_features
        ev = float(out.spikes[-1].sum())
        acs += ev * k
        reads += ev * k + ev
        macs += k * frames                              # LI readout leak
        reads += k * frames
    e = _price(macs / n, acs / n, adds / n, reads / n)
    if data.spikes:
        e["input_spikes_per_frame"] = (sum(float(x.sum()) for x, _, _ in data.epoch())
                                       / sum(float(m.sum()) for _, m, _ in data.epoch()))
    e["hidden_rate"] = float(np.mean(rates))
    return e


def _price(macs, acs, adds, reads) -> dict:
    return {"macs": macs, "acs": acs, "adds": adds, "mem_reads": reads,
            "energy_nj": (macs * MAC + (acs + adds) * AC + reads * READ) / 1e3}


# ----------------------------------------------------------------------------- training
def train_eval(make, train: Batches, test: Batches, epochs: int, lr: float, seed: int, wd: float = 0.0):
    torch.manual_seed(seed)
    model = make()
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=wd)
    steps = epochs * len(train)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for x, m, y in train.epoch(rng):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x, m), y).backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
    model.eval()
    with torch.no_grad():
        hits = sum(int((model(x, m).argmax(1) == y).sum()) for x, m, y in test.epoch())
    return model, hits / len(test.y), time.perf_counter() - t0


def run_fold(name, spec, feats, labels, tr, te, args, floor):
    fr = np.concatenate([feats[i] for i in tr])
    mean, std = fr.mean(0), fr.std(0) + 1e-3
    spiking = name == "rsnn"
    coded = spiking and args.rsnn_input == "threshold"
    levels = args.levels if coded else None
    if args.norm == "utterance":
        std = np.concatenate([feats[i] - feats[i].mean(0) for i in tr]).std(0) + 1e-3
    trb = Batches(feats, labels, tr, mean, std, args.batch, levels, coded, args.norm)
    teb = Batches(feats, labels, te, mean, std, 128, levels, coded, args.norm)
    n_in = feats[0].shape[1]
    n_ch = n_in * len(args.levels) if coded else n_in
    model, acc, secs = train_eval(lambda: spec["make"](n_ch), trb, teb, args.epochs, spec["lr"], args.seed)
    frames = float(np.mean([len(feats[i]) for i in te]))
    if spiking:
        en = energy_rsnn(model, teb)
    elif name in ("lstm", "gru"):
        en = energy_rnn(model, frames)
    elif name == "cnn":
        en = energy_cnn(model, frames, n_in)
    else:
        en = energy_mlp(model, frames, n_in)
    return {"acc": acc, "train_s": secs, **en}


def speed(args) -> None:
    """Fused vs reference recurrent ALIF layer, forward + backward, same run (one thread)."""
    from neuroplastic.neurons.surrogate import Surrogate
    from neuroplastic.temporal import ALIFParameters, alif_recurrent_reference
    from neuroplastic.temporal._fused import alif_recurrent_fused

    for T, B, H, masked in ((45, 32, 128, False), (45, 32, 128, True), (100, 32, 256, True)):
        torch.manual_seed(0)
        p = ALIFParameters(H, dt=1e-2)
        i = (2 * torch.randn(T, B, H)).requires_grad_()
        w = (0.1 * torch.randn(H, H)).requires_grad_()
        m = torch.ones(T, B, dtype=torch.bool)
        if masked:
            m[T // 2:, ::2] = False
        best = {}
        for _ in range(3):  # TorchScript's profiling executor optimises on the first calls
            alif_recurrent_fused(i, w, p.tensors(), m, Surrogate()).sum().backward()
        for name, fn in (("reference", alif_recurrent_reference), ("fused", alif_recurrent_fused)) * 7:
            t0 = time.perf_counter()
            fn(i, w, p.tensors(), m, Surrogate()).sum().backward()
            best[name] = min(best.get(name, 1e9), time.perf_counter() - t0)
        print(f"T={T} B={B} H={H} masked={masked}: reference {1e3 * best['reference']:.1f} ms, "
              f"fused {1e3 * best['fused']:.1f} ms, speed-up {best['reference'] / best['fused']:.2f}x", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=None, help="FSDD folder (default: data_root()/fsdd)")
    ap.add_argument("--cache", default="/tmp/neuroplastic_fsdd")
    ap.add_argument("--models", default="rsnn,lstm,gru,cnn,mlp_founding,mlp_wide")
    ap.add_argument("--protocol", choices=["standard", "loso", "both"], default="standard")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=128, help="RSNN / LSTM / GRU / CNN width")
    ap.add_argument("--levels", type=float, nargs="+", default=[-0.5, 0.0, 0.5, 1.0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rsnn-input", choices=["threshold", "analog"], default="analog",
                    help="spikes (threshold code at --levels) or the standardised log-mel as input current")
    ap.add_argument("--rsnn-hidden", type=int, nargs="+", default=None, help="RSNN layer sizes (default --hidden)")
    ap.add_argument("--readout", default="li_max", choices=["li_mean", "li_max", "count"])
    ap.add_argument("--rsnn-lr", type=float, default=1e-2)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--tau-mem", type=float, nargs=2, default=[50e-3, 300e-3], help="RSNN tau_mem init range (s)")
    ap.add_argument("--tau-adapt", type=float, default=200e-3)
    ap.add_argument("--backend", default="fused", choices=["fused", "reference"])
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    ap.add_argument("--norm", choices=["global", "utterance"], default="global",
                    help="standardise with the training set's channel means or each recording's own (CMN)")
    ap.add_argument("--speed", action="store_true", help="only time the fused vs the reference RSNN layer")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.speed:
        return speed(args)
    root = Path(args.root) if args.root else data_root() / "fsdd"
    cfg = LogMelConfig()
    feats, labels, speakers, takes = features(root, cfg, Path(args.cache))
    H = args.hidden
    specs = {
        "rsnn": {"lr": args.rsnn_lr, "make": lambda c: SpikingNet(
            c, args.rsnn_hidden or H, 10, dt=cfg.hop_ms * 1e-3, tau_mem=tuple(args.tau_mem), tau_adapt=args.tau_adapt, beta=0.2,
            readout=args.readout, tau_out=50e-3, dropout=args.dropout, backend=args.backend)},
        "lstm": {"lr": 3e-3, "make": lambda c: RNNClassifier("lstm", c, H, 10)},
        "gru": {"lr": 3e-3, "make": lambda c: RNNClassifier("gru", c, H, 10)},
        "cnn": {"lr": 3e-3, "make": lambda c: CNN1d(c, H // 2, 10)},
        "mlp_founding": {"lr": 1e-2, "make": lambda c: MeanMLP(c, (4, 4), 10)},
        "mlp_wide": {"lr": 3e-3, "make": lambda c: MeanMLP(c, (256, 128), 10)},
    }
    names = args.models.split(",")
    takes = np.asarray(takes)
    spk = np.asarray(speakers)
    folds = []
    if args.protocol in ("standard", "both"):
        folds.append(("standard", np.flatnonzero(takes >= 5), np.flatnonzero(takes < 5)))
    if args.protocol in ("loso", "both"):
        for s in sorted(set(speakers)):
            folds.append((f"loso:{s}", np.flatnonzero(spk != s), np.flatnonzero(spk == s)))
    results = {}
    for fold, tr, te in folds:
        for name in names:
            r = run_fold(name, specs[name], feats, labels, tr, te, args, cfg.floor)
            results.setdefault(name, {})[fold] = r
            print(f"{fold:14s} {name:13s} acc {100 * r['acc']:6.2f} %  energy {r['energy_nj']:9.1f} nJ/sample  "
                  f"MACs {r['macs']:.3g} ACs {r['acs']:.3g}  train {r['train_s']:.0f} s", flush=True)
    for name in names:
        loso = [v["acc"] for k, v in results[name].items() if k.startswith("loso:")]
        if loso:
            results[name]["loso_mean"] = float(np.mean(loso))
            print(f"LOSO mean {name:13s} {100 * np.mean(loso):6.2f} %")
    if args.out:
        Path(args.out).write_text(json.dumps({"args": vars(args), "results": results}, indent=1))


if __name__ == "__main__":
    main()
