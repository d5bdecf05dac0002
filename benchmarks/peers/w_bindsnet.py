"""BindsNET 0.3.4 worker, Diehl & Cook speed: milliseconds to train ``DiehlAndCook2015`` on one image.

As in bench_plasticity's ``speed`` section: 350 steps of 1 ms, STDP on, Poisson input at 63.75 Hz max
(``intensity`` 0.25 of 255), ``exc=22.5, inh=17.5, norm=78.4, theta_plus=0.05``, the network's state
reset after each image. BindsNET's package import pulls torchvision, gymnasium, cv2, pandas... which its
simulation code does not use: bench_plasticity's ``_install_stubs`` registers empty stand-ins for them.
Each measurement is the median over ``PER_ROUND`` consecutive images (Poisson encoding not timed).
Torch threads: ``THREADS`` (default 1; with 2 threads on the shared 2-core machine single images took
0.6-29 s as OpenMP threads waited for a descheduled sibling).

Usage: ``python w_bindsnet.py IMAGES.npy N_NEURONS PER_ROUND [THREADS]``.
"""
from __future__ import annotations

import statistics

from _worker import add_bench_dir, serve, timed


def setup(args: list[str]):
    add_bench_dir()
    import bench_plasticity as bp

    bp._install_stubs()
    import numpy as np
    import torch
    from bindsnet.encoding import poisson
    from bindsnet.models import DiehlAndCook2015

    import bindsnet

    images, n, per_round = args[0], int(args[1]), int(args[2])
    torch.set_num_threads(int(args[3]) if len(args) > 3 else 1)
    x = torch.as_tensor(np.load(images)).float()
    net = DiehlAndCook2015(n_inpt=784, n_neurons=n, exc=22.5, inh=17.5, dt=1.0, norm=78.4, theta_plus=0.05,
                           inpt_shape=(1, 28, 28))
    state = {"k": 0}

    def present() -> float:
        img = x[state["k"] % len(x)]
        state["k"] += 1
        spikes = poisson(datum=img.reshape(1, 28, 28) * 63.75, time=350, dt=1.0).unsqueeze(1)
        _, wall, cpu = timed(lambda: net.run(inputs={"X": spikes}, time=350))
        net.reset_state_variables()
        return wall, cpu

    present()  # warm-up

    def measure() -> dict:
        runs = [present() for _ in range(per_round)]
        return {"wall_ms": 1e3 * statistics.median(r[0] for r in runs),
                "cpu_ms": 1e3 * statistics.median(r[1] for r in runs)}

    return {"version": getattr(bindsnet, "__version__", "0.3.4"), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "n_neurons": n}, measure


if __name__ == "__main__":
    serve(setup)
