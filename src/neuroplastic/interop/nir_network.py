"""Export the graph :class:`~neuroplastic.network.Network` (populations and projections) to NIR.

Each spike source becomes a NIR ``Input``; each CUBA LIF population a ``CubaLIF`` node (``r = 1``,
``w_in = tau_syn / dt``: a synaptic event of weight ``w`` is a jump ``w`` of the current, as in
:mod:`.nir_export`) with an ``Output`` named ``"<population>.out"``; each projection a ``Linear``
holding its dense ``[n_post, n_pre]`` weights (parallel synapses summed), followed by a
``Delay`` of ``delay_steps * dt`` seconds when it has one. Projections into a population sum.

Refused with the fix: refractory populations (``t_ref > 0``), bias currents, an inhibitory
projection into a population whose inhibitory time constant differs from the excitatory one
(NIR's CubaLIF has one synaptic current), and plastic projections (NIR has no learning rule; the
initial weights would be exported silently otherwise). Initial potentials are not part of NIR.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from neuroplastic.interop._deps import require
from neuroplastic.interop._nir_common import _arr as _export_arr
from neuroplastic.interop._nir_common import check_cuba_exportable
from neuroplastic.network.graph import Network
from neuroplastic.network.topology import Population, SpikeSource


def _arr(v: Any, n: int) -> np.ndarray:
    return _export_arr(v, (n,))


def network_to_nir(net: Network) -> Any:
    """The ``nir.NIRGraph`` of a graph ``Network`` (see the module docstring)."""
    nir = require("nir", "nir", "to_nir")
    dt = net.dt
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    inh_into = {p.post for p in net.projections if p.receptor == "inh"}
    for name, pop in net.populations.items():
        if isinstance(pop, SpikeSource):
            nodes[name] = nir.Input(input_type={"input": np.array([pop.size])})
            continue
        assert isinstance(pop, Population)
        p, n = pop.params, pop.size
        check_cuba_exportable(f"population {name!r}", p, (n,))
        if name in inh_into and not np.allclose(_arr(p.tau_syn_inh, n), _arr(p.tau_syn_exc, n)):
            raise ValueError(f"population {name!r} receives inhibitory projections with tau_syn_inh != tau_syn_exc: "
                             "NIR's CubaLIF has one synaptic current; use equal time constants to export")
        tau_syn = _arr(p.tau_syn_exc, n)
        nodes[name] = nir.CubaLIF(tau_syn=tau_syn, tau_mem=_arr(p.tau_mem, n), r=np.ones(n), v_leak=_arr(p.v_rest, n),
                                  v_threshold=_arr(p.v_th, n), v_reset=_arr(p.v_reset, n), w_in=tau_syn / dt)
        nodes[f"{name}.out"] = nir.Output(output_type={"output": np.array([n])})
        edges.append((name, f"{name}.out"))
    for proj in net.projections:
        if proj.plasticity is not None:
            raise ValueError(f"projection {proj.name!r} is plastic: NIR has no learning rules; export a copy of the "
                             "network with the learned weights as a static projection")
        n_pre, n_post = net.populations[proj.pre].size, net.populations[proj.post].size
        key = f"{proj.name}"
        nodes[key] = nir.Linear(weight=proj.to_dense(n_pre, n_post).T.numpy().copy())
        edges.append((proj.pre, key))
        last = key
        if proj.delay_steps > 0:
            nodes[f"{key}.delay"] = nir.Delay(delay=np.full(n_post, proj.delay_steps * dt))
            edges.append((key, f"{key}.delay"))
            last = f"{key}.delay"
        edges.append((last, proj.post))
    metadata = {"source": "neuroplastic.network.Network", "dt": float(dt), "integration": "exact"}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)
