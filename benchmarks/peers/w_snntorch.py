"""snnTorch 1.0.0 worker, workload A: ``snn.Leaky`` stepped over T in a Python loop (snnTorch's usual way).

Settings matched to neuroplastic's LIF: ``beta = exp(-dt / tau_mem)``, ``threshold = 1``, subtractive
reset, the fast-sigmoid surrogate with slope 10 (``1 / (1 + 10 |x|)^2``, neuroplastic's default shape).

Differences that stay (snnTorch has no switch for them):

* snnTorch integrates ``beta v + I``; neuroplastic ``beta v + (1 - beta) I``. The factor ``1 - beta``
  is folded into the Dense weights and bias once (no per-step cost), so the dynamics and rate match.
* snnTorch's reset is delayed (``reset_delay=True``) and detached: the threshold is subtracted at the
  step after the spike, computed from the previous membrane potential, instead of right after the spike.
  This changes individual spike times slightly, not the work done per step.

The loop takes the steps with ``cur.unbind(0)``: indexing ``cur[t]`` makes autograd's backward of each
index zero-fill and add a full [T, B, N] gradient (quadratic in T: 7-9x slower training here, 1.8 s
instead of 0.2-0.25 s, and very sensitive to memory bandwidth). snnTorch's and Norse's tutorials apply the
Linear layer inside the loop, which avoids it too; ``unbind`` keeps the one big matmul of the workload.

Usage (normally started by ``benchmarks/peers.py run``): ``python w_snntorch.py snntorch``.
"""
from __future__ import annotations

from typing import Callable

from _worker import lif_setup, serve


def make_fn() -> Callable:
    import snntorch as snn
    import torch
    from snntorch import surrogate

    import bench_lif as bl

    lif = snn.Leaky(beta=bl.BETA, threshold=bl.V_TH, spike_grad=surrogate.fast_sigmoid(slope=10),
                    reset_mechanism="subtract")

    def run(cur: torch.Tensor) -> torch.Tensor:
        mem = torch.zeros_like(cur[0])
        out = []
        for c in cur.unbind(0):  # not cur[t]: see the module docstring
            spk, mem = lif(c, mem)
            out.append(spk)
        return torch.stack(out)

    return run


def setup(args: list[str]):
    import snntorch

    import bench_lif as bl

    meta, measure = lif_setup(make_fn, scale_input=1.0 - bl.BETA)
    return {"version": snntorch.__version__, **meta}, measure


if __name__ == "__main__":
    import _worker

    _worker.add_bench_dir()
    serve(setup)
