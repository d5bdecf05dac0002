"""GPU check of the Triton LIF / adaptive-LIF kernels: contract against the reference, then workload A-GPU.

1. Contract (every reset mode x detach_reset x surrogate, LIF and ALIF, shapes [T,B,N] and
   [T,B,C,H,W], state given): float32 spikes and final state bit-identical to the reference loop,
   gradients w.r.t. input and initial state within 1e-5 relative; bfloat16 spikes equal to the
   float32 reference on the same (bf16) input, input gradients within 2e-2.
2. Workload A-GPU (CUDA only): T=100, B=128, N=4096, float32; training step (forward + backward of
   a mean-rate MSE) and inference, for LIF alone (current given) and Dense 784->4096 + LIF;
   variants: neuroplastic (Triton), Triton with bfloat16 current, neuroplastic reference loop, a
   plain PyTorch step loop with autograd and, when importable, SpikingJelly 2.0.0's multi-step
   ``LIFNode`` forced onto its Triton implementation (``SJ_LIF_CUDA_IMPLEMENTATION=triton``; same
   decay, soft reset, its Sigmoid surrogate) in float32 (its bfloat16 path needs an explicit
   neuron-precision setting and a float32 membrane, so it is not compared), and a floor that
   feeds the current straight to the loss (no neuron). CUDA events, interleaved rounds, medians; peak memory
   is ``torch.cuda.max_memory_allocated`` growth over one training step.

Usage on a CUDA machine with Triton (about 2 minutes, most of it Triton compiling):
    python benchmarks/gpu_check.py [--quick] [--rounds 20]
Without a GPU, the contract part runs on CPU tensors through Triton's interpreter (needs triton):
    python benchmarks/gpu_check.py --interpret --quick
Results are printed and, when $OUT is set, written to $OUT/gpu_check.json. Exit status 1 if any
contract check fails.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time

if "--interpret" in sys.argv:  # must be set before Triton is imported
    os.environ["TRITON_INTERPRET"] = "1"

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_lif import DT, TAU, V_TH, loss_fn, plain_lif  # noqa: E402

import neuroplastic.kernels  # noqa: E402,F401
from neuroplastic._core.registry import get_backend  # noqa: E402
from neuroplastic.kernels import lif_triton  # noqa: E402
from neuroplastic.neurons import LIF, ALIFParams, ALIFState, LIFParams, LIFState  # noqa: E402

RESETS = ("subtract", "zero", "none")
SURROGATES = ("fast_sigmoid", "arctan", "triangle", "sigmoid")


def _inputs(model: str, shape, device, dtype, seed: int):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g) * 12.0 + 5.0
    step = shape[1:]
    v, ref = torch.randn(step, generator=g) * 0.5, torch.zeros(step)
    st = LIFState(v, ref) if model == "lif" else ALIFState(v, torch.rand(step, generator=g), ref)
    w = torch.randn(shape, generator=g)
    ws = [torch.randn(step, generator=g) for _ in st]
    c = lambda t: t.to(device=device, dtype=dtype)  # noqa: E731
    return c(x), type(st)(*map(c, st)), c(w), [c(t) for t in ws]


def _run(fn, x, state, params, w, ws):
    x = x.clone().requires_grad_()
    n = len(state) - 1
    state = type(state)(*[t.clone().requires_grad_(i < n) for i, t in enumerate(state)])
    s, fin = fn(x, state, params, DT)
    loss = (s * w).sum() + sum((t * u).sum() for t, u in zip(list(fin)[:n], ws))
    loss.backward()
    return s.detach(), [t.detach() for t in fin], x.grad, [t.grad for t in list(state)[:n]]


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().max() / b.float().abs().max().clamp_min(1e-30))


def contract(device: str, interpret: bool, quick: bool) -> list[dict]:
    rows = []
    surrogates = SURROGATES[:1] if quick else SURROGATES
    for model in ("lif", "alif"):
        P = LIFParams if model == "lif" else ALIFParams
        ref_fn = get_backend(f"{model}_sequence", "cpu", name="reference")
        if interpret:
            tri_fn = lif_triton.run_lif if model == "lif" else lif_triton.run_alif
        else:
            tri_fn = get_backend(f"{model}_sequence", device, name="triton")
        for reset in RESETS:
            for detach in (False, True):
                for sg in surrogates:
                    p = P(reset=reset, detach_reset=detach, surrogate=sg)
                    for shape in ((16, 3, 37), (12, 2, 3, 5, 5)):
                        x, st, w, ws = _inputs(model, shape, device, torch.float32, len(rows))
                        want, got = _run(ref_fn, x, st, p, w, ws), _run(tri_fn, x, st, p, w, ws)
                        errs = [_rel(got[2], want[2])] + [_rel(a, b) for a, b in zip(got[3], want[3])]
                        ok = torch.equal(got[0], want[0]) and all(torch.equal(a, b) for a, b in zip(got[1], want[1]))
                        rows.append({"model": model, "reset": reset, "detach": detach, "surrogate": sg,
                                     "dtype": "float32", "shape": list(shape), "spikes_state_equal": ok,
                                     "grad_rel_err": max(errs), "pass": ok and max(errs) <= 1e-5})
                    # bfloat16: float32 math on bf16 storage == float32 reference on the same input
                    x, st, w, ws = _inputs(model, (16, 4, 64), device, torch.bfloat16, len(rows))
                    got = _run(tri_fn, x, st, p, w, ws)
                    f = lambda t: t.float()  # noqa: E731
                    want = _run(ref_fn, f(x), type(st)(*map(f, st)), p, f(w), [f(u) for u in ws])
                    ok = torch.equal(got[0].float(), want[0]) and got[0].dtype == torch.bfloat16
                    err = _rel(got[2], want[2])
                    rows.append({"model": model, "reset": reset, "detach": detach, "surrogate": sg,
                                 "dtype": "bfloat16", "shape": [16, 4, 64], "spikes_state_equal": ok,
                                 "grad_rel_err": err, "pass": ok and err <= 2e-2})
    return rows


def _spikingjelly(device: str):
    """SpikingJelly's multi-step LIF on its Triton path, or None (with the reason printed)."""
    os.environ.setdefault("SJ_LIF_CUDA_IMPLEMENTATION", "triton")
    try:
        import spikingjelly
        from spikingjelly.activation_based import functional, neuron, surrogate
    except Exception as e:  # noqa: BLE001 - not installed or broken: skip the peer
        print(f"SpikingJelly not importable ({type(e).__name__}: {e}): peer skipped")
        return None, {}
    beta = math.exp(-DT / TAU)
    node = neuron.LIFNode(tau=1.0 / (1.0 - beta), v_threshold=V_TH, v_reset=None, decay_input=True,
                          surrogate_function=surrogate.Sigmoid(), step_mode="m")

    def run(cur: torch.Tensor) -> torch.Tensor:
        functional.reset_net(node)
        return node(cur)

    from importlib.metadata import version
    info = {"spikingjelly": getattr(spikingjelly, "__version__", None) or version("spikingjelly")}
    try:
        from spikingjelly._ops.lif import _selection
        info["spikingjelly_lif_impl"] = _selection.diagnostics(torch.device(device))["implementation"]
    except Exception as e:  # noqa: BLE001 - diagnostics are informative only
        info["spikingjelly_lif_impl"] = f"unknown ({type(e).__name__})"
    return run, info


def workload(rounds: int) -> dict:
    T, B, IN, N = 100, 128, 784, 4096
    dev = "cuda"
    torch.manual_seed(0)
    x_in = (torch.rand(T, B, IN, device=dev) < 0.2).float()
    dense = torch.nn.Linear(IN, N, device=dev)
    with torch.no_grad():
        dense.weight.mul_(25.0)
        cur0 = dense(x_in)
    fast = LIF(tau_mem=TAU, v_th=V_TH, dt=DT)
    ref = LIF(tau_mem=TAU, v_th=V_TH, dt=DT, backend="reference")
    variants = {
        "neuroplastic-triton": (lambda c: fast(c)[0], torch.float32),
        "neuroplastic-triton-bf16": (lambda c: fast(c)[0], torch.bfloat16),
        "neuroplastic-reference": (lambda c: ref(c)[0], torch.float32),
        "plain-loop": (plain_lif, torch.float32),
    }
    sj, sj_info = _spikingjelly(dev)
    if sj is not None:
        variants["spikingjelly-triton"] = (sj, torch.float32)
    variants["no-neuron-floor"] = (lambda c: c, torch.float32)  # Dense (+ loss) alone: what LIF adds on top
    # the same LIF after Dense(spike_input=True) sharing the weights: the exact bf16x3 tensor-core product
    from neuroplastic.kernels.spike_linear import _cuda_bf16x3_ok
    from neuroplastic.synapses import Dense

    event = Dense(IN, N, spike_input=True, device=dev)
    event.weight, event.bias = dense.weight, dense.bias
    variants["neuroplastic-triton-event"] = (lambda c: fast(c)[0], torch.float32)
    dense_of = {n: event if n.endswith("-event") else dense for n in variants}
    event_info = {"spike_linear_cuda_bf16x3": _cuda_bf16x3_ok()}

    def step(fn, dtype, pipeline: str, train: bool, d: torch.nn.Module = dense) -> None:
        with torch.set_grad_enabled(train):
            if pipeline == "dense+lif":
                d.zero_grad(set_to_none=True)
                cur = d(x_in).to(dtype)
            else:
                cur = cur0.to(dtype).requires_grad_(train)
            loss = loss_fn(fn(cur).float())
            if train:
                loss.backward()

    keys = [(n, p, tr) for n in variants for p in ("lif", "dense+lif") for tr in (True, False)]
    for n, p, tr in keys:  # warm-up, Triton compile
        step(*variants[n], p, tr, dense_of[n])
    torch.cuda.synchronize()
    times = {k: [] for k in keys}
    for r in range(rounds):
        for k in (keys if r % 2 == 0 else keys[::-1]):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            step(*variants[k[0]], k[1], k[2], dense_of[k[0]])
            end.record()
            torch.cuda.synchronize()
            times[k].append(start.elapsed_time(end))
    mem = {}
    for n in variants:
        for p in ("lif", "dense+lif"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            step(*variants[n], p, True, dense_of[n])
            torch.cuda.synchronize()
            mem[f"{n}|{p}"] = (torch.cuda.max_memory_allocated() - base) / 2**20
    with torch.no_grad():   # the event Dense against the float32 one (rounding only)
        ref_cur = dense(x_in[:4])
        event_info["event_dense_max_rel_err"] = float((event(x_in[:4]) - ref_cur).abs().max() / ref_cur.abs().max())
    res = {"shape": [T, B, N], "rounds": rounds, "median_ms": {}, "peak_train_mb": mem, **sj_info, **event_info}
    for (n, p, tr), v in times.items():
        res["median_ms"][f"{n}|{p}|{'train' if tr else 'infer'}"] = statistics.median(v)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description="GPU check of the Triton LIF kernels")
    ap.add_argument("--interpret", action="store_true", help="contract only, CPU tensors, Triton interpreter")
    ap.add_argument("--quick", action="store_true", help="contract with the default surrogate only")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--no-timing", action="store_true")
    args = ap.parse_args()
    if lif_triton.triton is None:
        print("Triton is not importable: pip install triton (a CUDA build) to run this check")
        return 2
    if not args.interpret and not torch.cuda.is_available():
        print("no CUDA device: run on a GPU machine, or use --interpret for the contract part")
        return 2
    device = "cpu" if args.interpret else "cuda"
    info = {"torch": torch.__version__, "triton": getattr(lif_triton.triton, "__version__", "?"),
            "device": torch.cuda.get_device_name() if device == "cuda" else "cpu (Triton interpreter)"}
    t0 = time.time()
    rows = contract(device, args.interpret, args.quick)
    n_fail = sum(not r["pass"] for r in rows)
    print(f"{info}\ncontract: {len(rows) - n_fail}/{len(rows)} pass in {time.time() - t0:.0f} s; "
          f"max fp32 grad rel err {max(r['grad_rel_err'] for r in rows if r['dtype'] == 'float32'):.2e}, "
          f"max bf16 {max(r['grad_rel_err'] for r in rows if r['dtype'] == 'bfloat16'):.2e}")
    for r in rows:
        if not r["pass"]:
            print("  FAIL", r)
    out = {"info": info, "contract": rows}
    if device == "cuda" and not args.no_timing:
        wl = workload(args.rounds)
        out["workload_A_gpu"] = wl
        print(f"\nworkload A-GPU T,B,N={wl['shape']} ({wl['rounds']} rounds, median ms; peak MB = train step)")
        print(f"{'variant':<28}{'pipeline':<11}{'train':>9}{'infer':>9}{'peak MB':>9}")
        for key in wl["peak_train_mb"]:
            n, p = key.split("|")
            m = wl["median_ms"]
            print(f"{n:<28}{p:<11}{m[f'{key}|train']:>9.2f}{m[f'{key}|infer']:>9.2f}{wl['peak_train_mb'][key]:>9.0f}")
        print(f"Dense(spike_input=True) backend cuda_bf16x3 available: {wl['spike_linear_cuda_bf16x3']}, "
              f"max rel err vs float32 Dense {wl['event_dense_max_rel_err']:.2e}")
        if "spikingjelly-triton|lif|train" in m:
            print(f"SpikingJelly {wl.get('spikingjelly')} LIF implementation: {wl.get('spikingjelly_lif_impl')}")
            for p in ("lif", "dense+lif"):
                for mode in ("train", "infer"):
                    for ours, theirs in (("neuroplastic-triton", "spikingjelly-triton"),
                                         ("neuroplastic-triton-event", "spikingjelly-triton")):
                        r = m[f"{ours}|{p}|{mode}"] / m[f"{theirs}|{p}|{mode}"]
                        print(f"  {p:<10}{mode:<6}{ours} / {theirs}: {r:.2f}x"
                              f" (bar <= 0.9x: {'PASS' if r <= 0.9 else 'FAIL'})")
    if os.environ.get("OUT"):
        with open(os.path.join(os.environ["OUT"], "gpu_check.json"), "w") as f:
            json.dump(out, f, indent=1)
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
