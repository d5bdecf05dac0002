r"""Import a NIR graph as a neuroplastic :class:`~neuroplastic.network.Sequential`.

NIR neurons are continuous-time, :math:`\tau \dot v = (v_{leak} - v) + R I` (CubaLIF adds
:math:`\tau_{syn} \dot I = -I + w_{in} S`), and a simulator picks the step ``dt`` and the
integration. ``integration="exact"`` integrates exactly over ``dt`` with the input held over the
step (neuroplastic's own neurons, parameters as they are); ``integration="euler"`` reproduces
forward Euler, :math:`v \leftarrow v + \frac{dt}{\tau}(v_{leak} - v + R I)`, which is what
snnTorch and Norse simulate: a decay :math:`1 - dt/\tau` is the exact decay of
:math:`\tau' = -dt / \ln(1 - dt/\tau)`, and the input gain :math:`dt/\tau` is then
:math:`1 - e^{-dt/\tau'}` with the same ``R``, so the imported ``LIF`` gets ``tau_mem = tau'``
and ``r = R`` and steps the Euler recursion exactly. snnTorch exports ``Leaky(beta)`` as
``tau = dt / (1 - beta)``, ``r = tau / dt`` at ``dt = 1e-4``: imported with that ``dt`` and
``"euler"``, the decay is ``beta`` and each step adds the input itself.

A CubaLIF's input enters its current as a jump of ``w_in x dt / tau_syn`` per step (Euler's
input term, also the exact response to an impulse), then the membrane integrates the current;
neuroplastic's :class:`~neuroplastic.neurons.CubaLIF` does that in voltage units, so a ``Scale``
layer in front carries ``R w_in dt / tau_syn`` (and, for ``"euler"``, the ratio of Euler's
current gain ``dt / tau_mem`` to the exact one). Thresholds: NIR fires at ``v > v_th``; LIF, LI
and IF here fire at ``v >= v_th`` (a difference only on exact ties).

Supported nodes: Input, Output, Affine, Linear, Scale, Conv1d, Conv2d, Flatten, SumPool2d,
AvgPool2d, LIF, CubaLIF, LI, IF, nested NIRGraphs, and a recurrent loop LIF -> Linear/Affine ->
same LIF fed by an Affine/Linear (imported as :class:`~neuroplastic.synapses.RecurrentLIF`; the
loop acts one step later). Not supported: Delay (the library has no delay layer in a
``Sequential``), CubaLI, I, Threshold, branches and merges other than that loop.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from neuroplastic.interop._deps import require
from neuroplastic.interop._layers import Conv1d, FlattenDims, Scale, SumPool2d
from neuroplastic.network.sequential import Sequential
from neuroplastic.neurons.cuba_lif import CubaLIF, synaptic_propagator_tensor
from neuroplastic.neurons.integrate_fire import IF
from neuroplastic.neurons.li import LI
from neuroplastic.neurons.lif import LIF
from neuroplastic.synapses.conv import AvgPool2d, Conv2d
from neuroplastic.synapses.dense import Dense, Flatten
from neuroplastic.synapses.recurrent import RecurrentLIF

SUPPORTED_NODES = ("Input", "Output", "Affine", "Linear", "Scale", "Conv1d", "Conv2d", "Flatten", "SumPool2d",
                   "AvgPool2d", "LIF", "CubaLIF", "LI", "IF", "NIRGraph (nested)")
INTEGRATIONS = ("exact", "euler")


# ----------------------------------------------------------------------------------- reading

def _read(graph_or_path: Any) -> Any:
    nir = require("nir", "nir", "from_nir")
    if isinstance(graph_or_path, nir.NIRGraph):
        return graph_or_path
    if not isinstance(graph_or_path, (str, os.PathLike)):
        raise TypeError(f"from_nir takes a nir.NIRGraph or the path of a .nir file, got {type(graph_or_path).__name__}")
    path = Path(graph_or_path)
    if not path.is_file():
        raise FileNotFoundError(f"no NIR file at {str(path)!r}: check the path (write one with nir.write or to_nir(..., path=))")
    try:
        graph = nir.read(path)
    except Exception as exc:  # h5py, KeyError, AssertionError ... from a malformed file
        raise ValueError(f"{str(path)!r} is not a readable NIR file ({type(exc).__name__}: {exc}): it must be an HDF5 "
                         "file written by nir.write (e.g. to_nir(model, path=...))") from exc
    if not isinstance(graph, nir.NIRGraph):
        raise ValueError(f"{str(path)!r} holds a single {type(graph).__name__} node, not a NIRGraph: wrap it with "
                         "nir.NIRGraph.from_list(node)")
    return graph


def _inline(nir: Any, graph: Any, prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]], list[str], list[str]]:
    """Flatten nested graphs: ``(nodes, edges, input names, output names)`` with prefixed names;
    nested Input/Output nodes become pass-through nodes (``None``)."""
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    ins, outs = [], []
    entry: dict[str, list[str]] = {}
    exit_: dict[str, list[str]] = {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges, sub_in, sub_out = _inline(nir, node, full + ".")
            nodes.update(sub_nodes)
            edges += sub_edges
            entry[name], exit_[name] = sub_in, sub_out
        else:
            nodes[full] = node
            entry[name] = exit_[name] = [full]
            if isinstance(node, nir.Input):
                ins.append(full)
            elif isinstance(node, nir.Output):
                outs.append(full)

    def resolve(endpoint: str, table: dict[str, list[str]]) -> list[str]:
        if endpoint in table:
            return table[endpoint]
        head, _, rest = endpoint.partition(".")
        if head in table and prefix + endpoint in nodes:  # "subgraph.inner" names an inner node
            return [prefix + endpoint]
        raise ValueError(f"NIR edge endpoint {prefix + endpoint!r} names no node of the graph: the file's edges and nodes disagree")

    for a, b in graph.edges:
        for src in resolve(a, exit_):
            for dst in resolve(b, entry):
                edges.append((src, dst))
    return nodes, edges, ins, outs


def _contract_passthrough(nir: Any, nodes: dict, edges: list, keep: set[str]) -> list[tuple[str, str]]:
    """Remove Input/Output nodes of nested graphs, joining their neighbours."""
    for name in [n for n, node in nodes.items() if isinstance(node, (nir.Input, nir.Output)) and n not in keep]:
        preds = [a for a, b in edges if b == name]
        succs = [b for a, b in edges if a == name]
        edges = [(a, b) for a, b in edges if name not in (a, b)] + [(p, s) for p in preds for s in succs]
        del nodes[name]
    return list(dict.fromkeys(edges))


# ---------------------------------------------------------------------------------- neurons

def _values(a: Any) -> Any:
    """A NIR array as a float when all entries agree (fused kernels then apply), else a tensor."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.size == 0:
        raise ValueError("a NIR neuron parameter is empty")
    if arr.ndim == 0 or np.all(arr == arr.reshape(-1)[0]):
        return float(arr.reshape(-1)[0])
    return torch.from_numpy(arr.copy())


def _euler_tau(name: str, node_name: str, tau: np.ndarray, dt: float) -> np.ndarray:
    """The time constant whose exact decay over ``dt`` is forward Euler's ``1 - dt / tau``."""
    tau = np.asarray(tau, dtype=np.float64)
    if np.any(tau <= dt):
        raise ValueError(f"node {node_name!r}: forward Euler at dt={dt} needs {name} > dt (got min {float(tau.min())}); "
                         "the Euler recursion does not decay there: use integration='exact' or a smaller dt")
    return -dt / np.log1p(-dt / tau)


def _check_positive(name: str, node_name: str, a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"node {node_name!r}: every {name} must be finite and > 0 (got min {float(np.min(a))})")
    return a


def _lif_kwargs(node: Any, name: str, dt: float, integration: str) -> dict:
    tau = _check_positive("tau", name, node.tau)
    if integration == "euler":
        tau = _euler_tau("tau", name, tau, dt)
    return dict(tau_mem=_values(tau), r=_values(node.r), v_leak=_values(node.v_leak), v_th=_values(node.v_threshold),
                v_reset=_values(node.v_reset), reset="zero", t_ref=0.0)


def _cuba(node: Any, name: str, dt: float, integration: str) -> list[nn.Module]:
    tau_m = _check_positive("tau_mem", name, node.tau_mem)
    tau_s = _check_positive("tau_syn", name, node.tau_syn)
    shape = np.broadcast_shapes(tau_m.shape, tau_s.shape, np.shape(node.v_threshold))
    gain = np.asarray(node.r, dtype=np.float64) * np.asarray(node.w_in, dtype=np.float64) * dt / tau_s
    if integration == "euler":
        tm, ts = _euler_tau("tau_mem", name, tau_m, dt), _euler_tau("tau_syn", name, tau_s, dt)
        _, b_exact, _ = synaptic_propagator_tensor(torch.from_numpy(np.broadcast_to(tm, shape).copy()),
                                                   torch.from_numpy(np.broadcast_to(ts, shape).copy()), dt)
        gain = gain * (dt / tau_m) / b_exact.numpy()  # Euler's current gain dt/tau_mem over the exact one
        tau_m, tau_s = tm, ts
    layer = CubaLIF(tau_mem=_values(tau_m), tau_syn_exc=_values(tau_s), v_rest=_values(node.v_leak),
                    v_th=_values(node.v_threshold), v_reset=_values(node.v_reset), t_ref=0.0, i_bias=0.0, dt=dt)
    gain = np.broadcast_to(gain, shape)
    if np.allclose(gain, 1.0, rtol=1e-12, atol=0.0):
        return [layer]
    return [Scale(torch.from_numpy(gain.copy())), layer]


# ---------------------------------------------------------------------------------- layers

def _conv_padding(p: Any) -> Any:
    if isinstance(p, (str, bytes)):
        return p.decode() if isinstance(p, bytes) else p
    arr = np.atleast_1d(np.asarray(p)).astype(int)
    return tuple(int(v) for v in arr) if arr.size > 1 else int(arr[0])


def _ints(v: Any) -> Any:
    arr = np.atleast_1d(np.asarray(v)).astype(int)
    return tuple(int(x) for x in arr) if arr.size > 1 else int(arr[0])


def _node_modules(nir: Any, name: str, node: Any, dt: float, integration: str, dtype: torch.dtype) -> list[nn.Module]:
    def tensor(a: Any) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a, dtype=np.float64), dtype=dtype)

    if isinstance(node, (nir.Affine, nir.Linear)):
        w = tensor(node.weight)
        if w.ndim != 2:
            raise ValueError(f"node {name!r}: only 2-D Affine/Linear weights import (got shape {tuple(w.shape)})")
        bias = isinstance(node, nir.Affine)
        layer = Dense(w.shape[1], w.shape[0], bias=bias, dtype=dtype)
        with torch.no_grad():
            layer.weight.copy_(w)
            if bias:
                layer.bias.copy_(tensor(node.bias).reshape(-1))
        return [layer]
    if isinstance(node, nir.Scale):
        return [Scale(tensor(node.scale))]
    if isinstance(node, (nir.Conv2d, nir.Conv1d)):
        w = tensor(node.weight)
        cls = Conv2d if isinstance(node, nir.Conv2d) else Conv1d
        layer = cls(w.shape[1] * int(node.groups), w.shape[0], tuple(w.shape[2:]), stride=_ints(node.stride),
                    padding=_conv_padding(node.padding), dilation=_ints(node.dilation), groups=int(node.groups),
                    bias=True, dtype=dtype)
        with torch.no_grad():
            layer.weight.copy_(w)
            layer.bias.copy_(tensor(node.bias).reshape(-1) if node.bias is not None else torch.zeros(w.shape[0]))
        return [layer]
    if isinstance(node, nir.Flatten):
        start, end = int(node.start_dim), int(node.end_dim)
        return [Flatten() if (start, end) == (0, -1) else FlattenDims(start, end)]
    if isinstance(node, nir.SumPool2d):
        return [SumPool2d(_ints(node.kernel_size), _ints(node.stride), _ints(node.padding))]
    if isinstance(node, nir.AvgPool2d):
        return [AvgPool2d(_ints(node.kernel_size), _ints(node.stride), _ints(node.padding))]
    if isinstance(node, nir.LIF):
        return [LIF(dt=dt, **_lif_kwargs(node, name, dt, integration))]
    if isinstance(node, nir.LI):
        tau = _check_positive("tau", name, node.tau)
        if integration == "euler":
            tau = _euler_tau("tau", name, tau, dt)
        return [LI(tau_mem=_values(tau), r=_values(node.r), v_leak=_values(node.v_leak), dt=dt)]
    if isinstance(node, nir.IF):
        # dv/dt = R I: exact and Euler agree for an input held over the step (gain R dt).
        return [IF(r=_values(np.asarray(node.r, dtype=np.float64) * dt), v_th=_values(node.v_threshold),
                   v_reset=_values(node.v_reset), reset="zero", dt=dt)]
    if isinstance(node, nir.CubaLIF):
        return _cuba(node, name, dt, integration)
    raise ValueError(f"NIR node {name!r} of type {type(node).__name__} has no neuroplastic counterpart: supported node "
                     f"types are {', '.join(SUPPORTED_NODES)}" + (" (the library has no delay layer for a Sequential)"
                                                                   if type(node).__name__ == "Delay" else ""))


def _recurrent(nir: Any, ff_name: str, ff: Any, name: str, node: Any, rec_name: str, rec: Any, dt: float,
               integration: str, dtype: torch.dtype) -> RecurrentLIF:
    if not isinstance(node, nir.LIF):
        raise ValueError(f"the recurrent loop through {name!r} ({type(node).__name__}) does not import: only a LIF with "
                         "a Linear/Affine back to itself becomes a RecurrentLIF")
    if not isinstance(ff, (nir.Affine, nir.Linear)) or not isinstance(rec, (nir.Affine, nir.Linear)):
        raise ValueError(f"the recurrent LIF {name!r} imports when an Affine/Linear feeds it ({ff_name!r} is "
                         f"{type(ff).__name__}) and its loop is one Affine/Linear ({rec_name!r} is {type(rec).__name__})")
    w_ff = torch.as_tensor(np.asarray(ff.weight, dtype=np.float64), dtype=dtype)
    w_rec = torch.as_tensor(np.asarray(rec.weight, dtype=np.float64), dtype=dtype)
    bias = torch.zeros(w_ff.shape[0], dtype=dtype)
    for part in (ff, rec):
        if isinstance(part, nir.Affine):
            bias = bias + torch.as_tensor(np.asarray(part.bias, dtype=np.float64), dtype=dtype).reshape(-1)
    layer = RecurrentLIF(w_ff.shape[1], w_ff.shape[0], bias=True, dt=dt, **_lif_kwargs(node, name, dt, integration))
    layer = layer.to(dtype)
    with torch.no_grad():
        layer.ff.weight.copy_(w_ff)
        layer.ff.bias.copy_(bias)
        layer.rec.weight.copy_(w_rec)
    return layer


# ----------------------------------------------------------------------------------- public

def from_nir(graph_or_path: Any, dt: float | None = None, integration: str = "exact", *,
             dtype: torch.dtype | None = None) -> Sequential:
    """Build a :class:`~neuroplastic.network.Sequential` from a NIR graph (or a ``.nir`` file).

    Args:
        graph_or_path: a ``nir.NIRGraph`` or the path of a file written by ``nir.write``.
        dt: the simulation step in seconds; None takes ``metadata["dt"]`` of a graph written by
            :func:`~neuroplastic.interop.to_nir` (snnTorch's exports assume ``dt = 1e-4``).
        integration: ``"exact"`` (exponential integration, neuroplastic's own) or ``"euler"``
            (forward Euler, the recursion snnTorch and Norse run); see the module docstring.
        dtype: of the weights (default: torch's default dtype).

    Raises:
        ValueError: an unsupported node (named, with the supported types), a graph that is not a
            chain, a malformed file. FileNotFoundError: no file at the path.
    """
    nir = require("nir", "nir", "from_nir")
    if integration not in INTEGRATIONS:
        raise ValueError(f"unknown integration {integration!r}: choose 'exact' or 'euler'")
    graph = _read(graph_or_path)
    if dt is None:
        meta = getattr(graph, "metadata", None) or {}
        if "dt" not in meta:
            raise ValueError("from_nir needs the step dt (seconds): this graph has no metadata['dt'] (snnTorch exports "
                             "assume dt=1e-4, Norse dt=1e-3)")
        dt = float(np.asarray(meta["dt"]))
    if not (isinstance(dt, (int, float)) and np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number of seconds, got {dt!r}")
    dtype = dtype or torch.get_default_dtype()
    nodes, edges, ins, outs = _inline(nir, graph)
    if len(ins) != 1 or len(outs) != 1:
        raise ValueError(f"from_nir imports graphs with one Input and one Output node, got inputs {ins} and outputs {outs}")
    edges = _contract_passthrough(nir, nodes, edges, {ins[0], outs[0]})
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    pred: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        succ[a].append(b)
        pred[b].append(a)
    modules: list[nn.Module] = []
    cur, visited, loops = ins[0], set(), set()
    while cur != outs[0]:
        visited.add(cur)
        nxt = [s for s in succ[cur] if s not in visited]
        loop = [s for s in succ[cur] if s in visited and s not in loops]
        if len(nxt) != 1 or loop:
            raise ValueError(f"node {cur!r} feeds {succ[cur]}: from_nir imports chains (one successor per node, plus "
                             "a LIF's recurrent loop); split the graph or merge its branches")
        node_name = nxt[0]
        rec = [p for p in pred[node_name] if p != cur]
        if rec:
            r = rec[0]
            if len(rec) != 1 or pred[r] != [node_name] or succ[r] != [node_name]:
                raise ValueError(f"node {node_name!r} has inputs {pred[node_name]}: from_nir imports merges only as a "
                                 "LIF's recurrent loop (LIF -> Linear -> the same LIF)")
            if not modules or not isinstance(modules[-1], Dense) or cur == ins[0]:
                raise ValueError(f"the recurrent LIF {node_name!r} imports when an Affine/Linear feeds it")
            modules.pop()
            modules.append(_recurrent(nir, cur, nodes[cur], node_name, nodes[node_name], r, nodes[r], dt, integration, dtype))
            visited.add(r)
            loops.add(r)
        elif node_name != outs[0]:
            modules += _node_modules(nir, node_name, nodes[node_name], dt, integration, dtype)
        cur = node_name
        if len(visited) > len(nodes):  # pragma: no cover - defensive against malformed cycles
            raise ValueError("the NIR graph has a cycle from_nir cannot follow")
    return Sequential(*modules).to(dtype)
