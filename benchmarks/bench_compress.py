"""Compression, energy and robustness on scikit-learn digits (stratified 75/25 split, seed 0).

Models (all trained here with ``neuroplastic.training.Model``, CPU, seed 0):

* ``mlp_wide``    -- the library's backprop baseline ``64-256-128-10`` ReLU (``build_model("mlp_wide")``).
* ``mlp_h<k>``    -- one-hidden-layer ReLU MLPs (k = 8, 16, 32, 64), to find "the MLP of equal accuracy".
* ``snn_direct``  -- the library's default SNN (``build_model("snn")``): ConstantEncoder(16) direct
  current, ``Dense 64-256 -> LIF -> Dense 256-10 -> LI``, max-membrane readout.
* ``snn_latency`` -- the same builder with 128 hidden LIF neurons and 8 steps, fed by latency-coded
  spikes (``LatencyEncoder(8)``: one spike per nonzero pixel), so its first layer costs one
  accumulate per input spike and fan-out instead of MACs at every step; Adam lr 1e-2.

Sections: energy per inference (:func:`neuroplastic.compress.profile`, Horowitz-2014 45 nm costs),
90 % global magnitude pruning (gradual 50/75/90 % with 10-epoch fine-tunes), weight quantization (PTQ at
32/8/6/4/3/2 bits, QAT at 4/3/2 bits), a fixed-point LIF membrane, 30 % synapse lesions (5 draws),
the robustness report (noise, dropout, lesions, neuron death), recovery of a plasticity-trained
network from a 30 % lesion after one online pass, and concept drift (plastic vs frozen).

Usage: ``python benchmarks/bench_compress.py [--quick] [--out benchmarks/out/compress]``
(full run: ~20-30 min on 2 busy CPU cores; ``--quick`` is a smoke test with few epochs).
Writes ``results.json``, ``robustness.png``, ``drift.png`` and ``quantization.png`` to ``--out``
and prints a Markdown summary.
"""
from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path
from typing import Any

import torch

from neuroplastic import LatencyEncoder
from neuroplastic.compress import (
    convert_qat,
    install_masks,
    masks,
    prepare_qat,
    profile,
    prune_magnitude,
    quantize_membrane,
    quantize_weights,
    sparsity,
)
from neuroplastic.datasets import load_split
from neuroplastic.robustness import (
    PrototypeNetwork,
    accuracy,
    drift_experiment,
    plot_drift,
    plot_robustness,
    robustness_report,
)
from neuroplastic.training import Model, build, build_model

SNN_COMPILE = {"optimizer": "adam", "loss": "cross_entropy", "metrics": ["accuracy"], "loss_options": {"readout": "max"}}
MLP_COMPILE = {"optimizer": "adam", "loss": "cross_entropy", "metrics": ["accuracy"]}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Bench:
    def __init__(self, quick: bool, seed: int) -> None:
        self.quick, self.seed = quick, seed
        self.split = load_split("digits")
        self.x_test = torch.tensor(self.split.x_test)
        self.results: dict[str, Any] = {"dataset": "digits", "seed": seed, "quick": quick,
                                        "torch": torch.__version__, "threads": torch.get_num_threads()}

    # ----------------------------------------------------------------- helpers
    def epochs(self, n: int) -> int:
        return max(1, n // 10) if self.quick else n

    def acc(self, model: Model) -> float:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            return float(model.evaluate(self.split.x_test, self.split.y_test)["accuracy"])

    def fit(self, model: Model, epochs: int, batch_size: int) -> Model:
        model.fit(self.split.x_train, self.split.y_train, epochs=self.epochs(epochs), batch_size=batch_size,
                  verbose=0, seed=self.seed)
        return model

    def energy(self, model: Any) -> dict[str, float]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            r = profile(model, self.x_test)
        t = r.total
        return {"energy_nj": r.energy_pj / 1e3, "synaptic_ops": r.synaptic_ops, "macs": t.macs, "acs": t.acs,
                "neuron_updates": t.neuron_updates, "spikes": t.spikes, "mem_reads": t.mem_reads,
                "table": r.table()}

    @staticmethod
    def clone(model: Model, compile_kw: dict[str, Any], lr: float) -> Model:
        m = Model(copy.deepcopy(model.module), device="cpu")
        m.compile(**compile_kw, lr=lr)
        return m

    # ----------------------------------------------------------------- models
    def train_models(self) -> dict[str, Model]:
        models: dict[str, Model] = {}
        log("training mlp_wide")
        models["mlp_wide"] = self.fit(build_model("mlp_wide", n_in=64, n_out=10, device="cpu", seed=self.seed), 50, 32)
        log("training snn_direct")
        models["snn_direct"] = self.fit(build_model("snn", n_in=64, n_out=10, device="cpu", seed=self.seed), 40, 64)
        log("training snn_latency")
        net = build("snn", n_in=64, n_out=10, hidden=[128], num_steps=8, seed=self.seed)
        net[0] = LatencyEncoder(8)
        m = Model(net, device="cpu")
        m.compile(**SNN_COMPILE, lr=1e-2)
        models["snn_latency"] = self.fit(m, 40, 64)
        for h in (8, 16, 32, 64):
            log(f"training mlp_h{h}")
            models[f"mlp_h{h}"] = self.fit(build_model("mlp_wide", n_in=64, n_out=10, hidden=[h], device="cpu",
                                                       seed=self.seed), 100, 32)
        self.results["accuracy"] = {k: self.acc(v) for k, v in models.items()}
        log(f"accuracy {self.results['accuracy']}")
        return models

    # ----------------------------------------------------------------- sections
    def section_energy(self, models: dict[str, Model]) -> None:
        log("energy")
        rows = {k: self.energy(v) for k, v in models.items()}
        acc = self.results["accuracy"]
        out: dict[str, Any] = {"models": rows}
        for snn in ("snn_direct", "snn_latency"):
            equal = [k for k in sorted(rows, key=lambda k: rows[k]["energy_nj"]) if k.startswith("mlp") and acc[k] >= acc[snn]]
            cheapest = equal[0] if equal else None
            out[snn] = {
                "ratio_vs_mlp_wide": rows[snn]["energy_nj"] / rows["mlp_wide"]["energy_nj"],
                "cheapest_mlp_at_least_as_accurate": cheapest,
                "ratio_vs_that_mlp": None if cheapest is None else rows[snn]["energy_nj"] / rows[cheapest]["energy_nj"],
            }
        self.results["energy"] = out

    def section_pruning(self, models: dict[str, Model]) -> None:
        """Global magnitude pruning to 90 %: one-shot, and gradual (50/75/90 %) with 10 fine-tune epochs per stage."""
        out: dict[str, Any] = {}
        plans = {"mlp_wide": (MLP_COMPILE, 32, 1e-3), "snn_latency": (SNN_COMPILE, 64, 1e-2),
                 "snn_direct": (SNN_COMPILE, 64, 2e-3)}
        for name, (ckw, bs, lr) in plans.items():
            log(f"pruning {name}")
            base = self.results["accuracy"][name]
            oneshot = self.clone(models[name], ckw, lr)
            prune_magnitude(oneshot, 0.9, scope="global")
            one_acc = self.acc(oneshot)
            gradual = self.clone(models[name], ckw, lr)
            for s in (0.5, 0.75, 0.9):
                prune_magnitude(gradual, s, scope="global")
                self.fit(gradual, 10, bs)
            out[name] = {"dense": base, "oneshot_90_no_finetune": one_acc, "gradual_90_finetuned": self.acc(gradual),
                         "sparsity": sparsity(gradual), "energy_pruned": self.energy(gradual)}
            out[name]["drop_points"] = 100 * (base - out[name]["gradual_90_finetuned"])
            log(f"  {name}: {out[name]['dense']:.4f} -> one-shot {one_acc:.4f}, gradual+ft {out[name]['gradual_90_finetuned']:.4f}")
        self.results["pruning"] = out

    def section_quantization(self, models: dict[str, Model]) -> None:
        out: dict[str, Any] = {}
        plans = {"mlp_wide": (MLP_COMPILE, 32), "snn_latency": (SNN_COMPILE, 64), "snn_direct": (SNN_COMPILE, 64)}
        for name, (ckw, bs) in plans.items():
            log(f"quantization {name}")
            ptq = {}
            for bits in (32, 8, 6, 4, 3, 2):
                m = self.clone(models[name], ckw, 1e-3)
                quantize_weights(m, bits)
                ptq[bits] = self.acc(m)
            qat = {}
            for bits in (4, 3, 2):
                m = self.clone(models[name], ckw, 5e-4)
                prepare_qat(m, bits)
                self.fit(m, 5, bs)
                convert_qat(m)
                qat[bits] = self.acc(m)
            out[name] = {"ptq": ptq, "qat": qat, "drop_points_4bit_qat": 100 * (ptq[32] - qat[4])}
            log(f"  {name}: ptq {ptq} qat {qat}")
        for name in ("snn_direct", "snn_latency"):
            fixed = Model(quantize_membrane(models[name], frac_bits=8, total_bits=16), device="cpu")
            fixed.compile(**SNN_COMPILE)
            out[name]["membrane_fixed_q8_16"] = self.acc(fixed)
        self.results["quantization"] = out

    def section_robustness(self, models: dict[str, Model], out_dir: Path) -> None:
        log("robustness")
        subset = {k: models[k] for k in ("mlp_wide", "snn_direct", "snn_latency", "mlp_h16")}
        lesion = robustness_report(subset, self.split, noise=[], dropout=[], lesion=[0.3], death=[],
                                   repeats=5, seed=self.seed)
        self.results["lesion_30"] = {k: {"clean": v["clean"], "lesion_30": v["lesion"][0], "std": v["lesion_std"][0]}
                                     for k, v in lesion["models"].items()}
        rep = robustness_report(subset, self.split, repeats=1 if self.quick else 3, seed=self.seed)
        self.results["robustness"] = rep
        plot_robustness(rep, str(out_dir / "robustness.png"))

    def section_plasticity_recovery(self, models: dict[str, Model]) -> None:
        log("plasticity recovery")
        x = torch.tensor(self.split.x_train)
        y = torch.tensor(self.split.y_train)
        g = torch.Generator().manual_seed(self.seed)

        def one_pass(net: PrototypeNetwork) -> None:
            for i in torch.randperm(len(y), generator=g).tolist():
                net.learn(x[i:i + 1], y[i:i + 1])

        out: dict[str, Any] = {}
        net = PrototypeNetwork(64, 10, lr=0.05)
        one_pass(net)
        one_pass(net)
        out["trained"] = accuracy(net, self.split.x_test, self.split.y_test)
        w = net.conn.weight
        for variant in ("weights_zeroed", "synapses_removed"):
            lesioned = copy.deepcopy(net)
            idx = torch.randperm(w.numel(), generator=torch.Generator().manual_seed(self.seed + 1))[:round(0.3 * w.numel())]
            with torch.no_grad():
                lesioned.conn.weight.view(-1)[idx] = 0.0
            if variant == "synapses_removed":          # permanent: a pruning mask keeps them at zero
                install_masks(lesioned, ["conn.layer.weight"])
                masks(lesioned)["conn.layer.weight"].view(-1)[idx] = False
            after = accuracy(lesioned, self.split.x_test, self.split.y_test)
            one_pass(lesioned)
            out[variant] = {"lesioned": after, "after_one_pass": accuracy(lesioned, self.split.x_test, self.split.y_test)}
        # backprop comparison: the MLP after a 30 % lesion, then one epoch of gradient fine-tuning
        mlp = self.clone(models["mlp_wide"], MLP_COMPILE, 1e-3)
        with torch.no_grad():
            for lin in [m for m in mlp.module.modules() if isinstance(m, torch.nn.Linear)]:
                n = lin.weight.numel()
                lin.weight.view(-1)[torch.randperm(n, generator=torch.Generator().manual_seed(self.seed + 1))[:round(0.3 * n)]] = 0
        les = self.acc(mlp)
        mlp.fit(self.split.x_train, self.split.y_train, epochs=1, batch_size=32, verbose=0, seed=self.seed)
        out["mlp_wide_backprop"] = {"trained": self.results["accuracy"]["mlp_wide"], "lesioned": les,
                                    "after_one_epoch": self.acc(mlp)}
        self.results["plasticity_recovery"] = out
        log(f"  {out}")

    def section_drift(self, out_dir: Path) -> None:
        log("drift")
        res = [drift_experiment(k, n_steps=3000, warmup=500, window=200, seed=self.seed) for k in ("abrupt", "gradual")]
        plot_drift(res, str(out_dir / "drift.png"))
        self.results["drift"] = {r["kind"]: {k: r[k] for k in ("before", "after", "recovery_steps", "drift_at", "drift_end")}
                                 for r in res}

    def plot_quantization(self, out_dir: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3.6))
        for name, q in self.results["quantization"].items():
            bits = sorted(q["ptq"], reverse=True)
            ax.plot([str(b) for b in bits], [q["ptq"][b] for b in bits], marker="o", label=f"{name} PTQ")
            qb = sorted(q["qat"], reverse=True)
            ax.plot([str(b) for b in qb], [q["qat"][b] for b in qb], marker="s", ls="--", label=f"{name} QAT")
        ax.set_xlabel("weight bits")
        ax.set_ylabel("test accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out_dir / "quantization.png", dpi=120)


def markdown(r: dict[str, Any]) -> str:
    acc, en = r["accuracy"], r["energy"]["models"]
    lines = ["| model | test acc | energy / inference (nJ) | MACs | ACs | neuron updates | spikes |",
             "|---|---|---|---|---|---|---|"]
    for k in acc:
        e = en[k]
        lines.append(f"| {k} | {acc[k]:.4f} | {e['energy_nj']:.1f} | {e['macs']:.0f} | {e['acs']:.0f} | "
                     f"{e['neuron_updates']:.0f} | {e['spikes']:.0f} |")
    lines.append("")
    for snn in ("snn_direct", "snn_latency"):
        s = r["energy"][snn]
        tail = "" if s["cheapest_mlp_at_least_as_accurate"] is None else \
            f"; vs the cheapest MLP at least as accurate ({s['cheapest_mlp_at_least_as_accurate']}): {s['ratio_vs_that_mlp']:.2f}x"
        lines.append(f"- {snn}: energy {s['ratio_vs_mlp_wide']:.2f}x mlp_wide{tail}")
    lines += ["", "| model | dense acc | 90 % one-shot (no fine-tune) | 90 % gradual + fine-tune | loss (points) | energy pruned (nJ) |",
              "|---|---|---|---|---|---|"]
    for k, p in r["pruning"].items():
        lines.append(f"| {k} | {p['dense']:.4f} | {p['oneshot_90_no_finetune']:.4f} | {p['gradual_90_finetuned']:.4f} | "
                     f"{p['drop_points']:+.1f} | {p['energy_pruned']['energy_nj']:.1f} |")
    lines += ["", "| model | 32 | 8 | 6 | 4 | 3 | 2 | QAT 4 | QAT 3 | QAT 2 | fixed-point membrane Q8.8 |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for k, q in r["quantization"].items():
        p, t = q["ptq"], q["qat"]
        mem = q.get("membrane_fixed_q8_16")
        lines.append(f"| {k} | " + " | ".join(f"{p[b]:.4f}" for b in (32, 8, 6, 4, 3, 2)) + " | "
                     + " | ".join(f"{t[b]:.4f}" for b in (4, 3, 2)) + f" | {'-' if mem is None else f'{mem:.4f}'} |")
    lines += ["", "| model | clean | 30 % synapses lesioned (mean +- std, 5 draws) |", "|---|---|---|"]
    for k, v in r["lesion_30"].items():
        lines.append(f"| {k} | {v['clean']:.4f} | {v['lesion_30']:.4f} +- {v['std']:.4f} |")
    pr = r["plasticity_recovery"]
    lines += ["", f"- plasticity-trained prototype network: {pr['trained']:.4f}; 30 % weights zeroed -> "
              f"{pr['weights_zeroed']['lesioned']:.4f} -> one online pass {pr['weights_zeroed']['after_one_pass']:.4f}; "
              f"30 % synapses removed for good -> {pr['synapses_removed']['lesioned']:.4f} -> one pass "
              f"{pr['synapses_removed']['after_one_pass']:.4f}",
              f"- mlp_wide (backprop): {pr['mlp_wide_backprop']['trained']:.4f}; 30 % lesion -> "
              f"{pr['mlp_wide_backprop']['lesioned']:.4f} -> one epoch of backprop {pr['mlp_wide_backprop']['after_one_epoch']:.4f}"]
    for kind, d in r["drift"].items():
        lines.append(f"- {kind} drift: plastic {d['before']['plastic']:.3f} -> {d['after']['plastic']:.3f}, frozen "
                     f"{d['before']['frozen']:.3f} -> {d['after']['frozen']:.3f}; recovery {d['recovery_steps']} steps")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="few epochs: a smoke test, not figures")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(Path(__file__).parent / "out" / "compress"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    b = Bench(args.quick, args.seed)
    models = b.train_models()
    b.section_energy(models)
    b.section_pruning(models)
    b.section_quantization(models)
    b.plot_quantization(out)
    b.section_robustness(models, out)
    b.section_plasticity_recovery(models)
    b.section_drift(out)
    b.results["wall_s"] = time.time() - t0
    (out / "results.json").write_text(json.dumps(b.results, indent=1, default=str))
    print(markdown(b.results))
    log(f"done in {time.time() - t0:.0f} s; results in {out}")


if __name__ == "__main__":
    main()
