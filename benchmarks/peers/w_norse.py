"""Norse 1.1.0 worker, workload A: ``LIFBoxCell`` (current-free LIF) stepped over T in a Python loop.

Norse 1.1.0 has no sequence module for the current-free LIF (``norse.torch.LIF`` adds a synaptic
current, a second state); ``Lift(LIFBoxCell)`` is the same Python loop. Settings matched to
neuroplastic's LIF: Norse integrates ``v + dt / tau (v_leak - v + I)`` (forward Euler), so
``tau_mem_inv = (1 - beta) / dt`` gives exactly ``beta v + (1 - beta) I`` with ``beta = exp(-dt / tau)``;
``v_th = 1``, ``v_leak = 0``, subtractive reset (``reset_method=reset_subtract``: ``v - z v_th``).

Difference that stays: Norse's ``"super"`` surrogate (SuperSpike) ignores ``alpha`` in its backward pass
and uses ``1 / (|x| + 1)^2`` (slope 1, neuroplastic's default is slope 10): the same cost, another shape.

The loop takes the steps with ``cur.unbind(0)``: indexing ``cur[t]`` makes autograd's backward of each
index zero-fill and add a full [T, B, N] gradient (quadratic in T: 7-9x slower training here, 1.8 s
instead of 0.2-0.25 s, and very sensitive to memory bandwidth). snnTorch's and Norse's tutorials apply the
Linear layer inside the loop, which avoids it too; ``unbind`` keeps the one big matmul of the workload.

Usage: ``python w_norse.py lifbox``.
"""
from __future__ import annotations

from typing import Callable

from _worker import add_bench_dir, lif_setup, serve


def make_fn() -> Callable:
    import torch
    from norse.torch import LIFBoxCell, LIFBoxParameters
    from norse.torch.functional.reset import reset_subtract

    import bench_lif as bl

    p = LIFBoxParameters(tau_mem_inv=torch.as_tensor((1.0 - bl.BETA) / bl.DT), v_leak=torch.as_tensor(0.0),
                         v_th=torch.as_tensor(bl.V_TH), v_reset=torch.as_tensor(0.0), method="super",
                         alpha=torch.as_tensor(10.0), reset_method=reset_subtract)
    cell = LIFBoxCell(p, dt=bl.DT)

    def run(cur: torch.Tensor) -> torch.Tensor:
        state = None
        out = []
        for c in cur.unbind(0):  # not cur[t]: see the module docstring
            z, state = cell(c, state)
            out.append(z)
        return torch.stack(out)

    return run


def setup(args: list[str]):
    import norse

    meta, measure = lif_setup(make_fn)
    return {"version": getattr(norse, "__version__", None), **meta}, measure


if __name__ == "__main__":
    add_bench_dir()
    serve(setup)
