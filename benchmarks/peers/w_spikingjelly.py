"""SpikingJelly 2.0.0 worker, workload A: multi-step ``LIFNode`` (``step_mode="m"``) over the whole [T, B, N].

Settings matched to neuroplastic's LIF: ``decay_input=True`` and soft reset (``v_reset=None``) give
``h = v + (x - v) / tau``, i.e. ``beta v + (1 - beta) x`` with ``tau = 1 / (1 - beta)``; ``v_threshold = 1``;
``v <- h - S v_th``; reset not detached. The surrogate is ``SoftSign(alpha=10)``, whose gradient
``alpha / (2 (1 + alpha |x|)^2)`` has neuroplastic's fast-sigmoid shape (slope 10) scaled by 5; it is one of
the built-in surrogates SpikingJelly 2.0.0's fused multi-step path accepts (a custom one would drop it to
its slow reference loop), so this is SpikingJelly's fastest CPU path.

Usage: ``python w_spikingjelly.py multistep``.
"""
from __future__ import annotations

from typing import Callable

from _worker import add_bench_dir, lif_setup, serve


def make_fn() -> Callable:
    import torch
    from spikingjelly.activation_based import functional, neuron, surrogate

    import bench_lif as bl

    node = neuron.LIFNode(tau=1.0 / (1.0 - bl.BETA), decay_input=True, v_threshold=bl.V_TH, v_reset=None,
                          surrogate_function=surrogate.SoftSign(alpha=10.0), detach_reset=False, step_mode="m")

    def run(cur: torch.Tensor) -> torch.Tensor:
        functional.reset_net(node)
        return node(cur)

    return run


def setup(args: list[str]):
    from importlib.metadata import version

    meta, measure = lif_setup(make_fn)
    return {"version": version("spikingjelly"), **meta}, measure


if __name__ == "__main__":
    add_bench_dir()
    serve(setup)
