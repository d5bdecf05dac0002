"""NEST 3.10.0 worker, workload B: the CUBA network (Brian2's ``examples/CUBA.py``) with ``iaf_psc_exp``.

Mapping from Brian2's voltage-jump synapses to NEST's current synapses: Brian2 adds ``we`` (volts) to
``ge`` and ``dv/dt = (ge + gi - (v - El)) / taum``; NEST adds ``w`` (pA) to ``I_syn`` and
``C_m dV/dt = -C_m (V - E_L) / tau_m + I_syn``. The same trajectory needs ``w = we * C_m / tau_m``:
``we = 1.62 mV -> 20.25 pA``, ``wi = -9 mV -> -112.5 pA`` with ``C_m = 250 pF``, ``tau_m = 20 ms``.
``tau_syn_ex = 5 ms``, ``tau_syn_in = 10 ms``, ``V_th = -50 mV``, ``V_reset = -60 mV``, ``E_L = -49 mV``,
``t_ref = 5 ms``, ``V_m ~ U[-60, -50] mV``; ``pairwise_bernoulli`` p = 0.02 from the 3,200 excitatory
and from the 800 inhibitory neurons to all 4,000.

Differences: NEST integrates the subthreshold dynamics exactly (Brian2 ``method='linear'`` as well);
NEST's smallest delay is one step (0.1 ms), so a spike acts one step later than in Brian2 (delay 0).
Threads: ``--threads`` (default 2, as in the issue). Each measurement builds the same network afresh (same seed; not timed;
``ResetKernel``) and times ``Simulate(1000 ms)``: wall and CPU time of this process.

Usage: ``python w_nest.py nest [THREADS] [SEED]``.
"""
from __future__ import annotations

from _worker import serve, timed

N_E, N_I, P_CONN = 3200, 800, 0.02
C_M, TAU_M = 250.0, 20.0
W_E, W_I = 1.62 * C_M / TAU_M, -9.0 * C_M / TAU_M


def setup(args: list[str]):
    import nest

    threads = int(args[1]) if len(args) > 1 else 2
    seed = int(args[2]) if len(args) > 2 else 1
    nest.set_verbosity("M_ERROR")
    state = {"seed": seed}

    def build():
        nest.ResetKernel()
        nest.SetKernelStatus({"resolution": 0.1, "local_num_threads": threads, "rng_seed": state["seed"],
                              "print_time": False})
        params = {"C_m": C_M, "tau_m": TAU_M, "tau_syn_ex": 5.0, "tau_syn_in": 10.0, "t_ref": 5.0,
                  "E_L": -49.0, "V_th": -50.0, "V_reset": -60.0, "I_e": 0.0}
        pop = nest.Create("iaf_psc_exp", N_E + N_I, params=params)
        pop.V_m = nest.random.uniform(-60.0, -50.0)
        rec = nest.Create("spike_recorder")
        rule = {"rule": "pairwise_bernoulli", "p": P_CONN}
        nest.Connect(pop[:N_E], pop, rule, {"weight": W_E, "delay": 0.1})
        nest.Connect(pop[N_E:], pop, rule, {"weight": W_I, "delay": 0.1})
        nest.Connect(pop, rec)
        nest.Prepare()  # allocate buffers outside the timed part (Simulate = Prepare + Run + Cleanup)
        return rec

    build()
    synapses = nest.GetKernelStatus("num_connections") - (N_E + N_I)
    nest.Run(10.0)  # warm-up
    nest.Cleanup()

    def measure() -> dict:
        rec = build()
        _, wall, cpu = timed(lambda: nest.Run(1000.0))
        nest.Cleanup()
        return {"wall_s": wall, "cpu_s": cpu, "rate_hz": rec.n_events / 4000.0}

    return {"version": nest.__version__, "threads": threads, "synapses": synapses}, measure


if __name__ == "__main__":
    serve(setup)
