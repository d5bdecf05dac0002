r"""Export a neuroplastic ``Sequential`` to the Neuromorphic Intermediate Representation (NIR).

NIR describes neurons in continuous time, :math:`\tau \dot v = (v_{leak} - v) + R I`, with a
reset to ``v_reset`` when :math:`v > v_{th}`. neuroplastic's neurons integrate that equation
exactly over a step ``dt`` (input held over the step), so a layer exports with its own
parameters: ``LIF(tau_mem, r, v_leak, v_th, v_reset)`` becomes ``nir.LIF(tau, r, v_leak,
v_threshold, v_reset)``; ``IF`` (gain ``r`` per step) becomes ``nir.IF(r / dt, ...)``; the CUBA
neuron, whose input is a jump of its current, becomes ``nir.CubaLIF`` with ``r = 1`` and
``w_in = tau_syn / dt`` (a jump ``x`` per step is ``w_in x dt / tau_syn``). The step ``dt`` and
``integration="exact"`` go into the graph's metadata, where :func:`~neuroplastic.interop.from_nir`
finds them.

What has no NIR form is refused with the fix: a subtractive reset or none (NIR resets to
``v_reset``; build the layer with ``reset="zero"``, or pass ``approximate_reset=True`` to export it
as one anyway, with a warning, since the outputs then differ), refractoriness (``t_ref > 0``), a
CUBA bias current, an IF start ``v_init != 0``, adaptive LIF, max pooling and encoders.
``RecurrentLIF`` exports as an ``Affine`` into a ``LIF`` with a ``Linear`` from the ``LIF`` back
to itself (the loop NIR readers run one step late, as the layer does).

The walk goes over the ``Sequential`` itself (tracing fails on explicit state). The graph
``Network`` of :mod:`neuroplastic.network` (populations and projections, with delays) exports
through :mod:`.nir_network` (export only: :func:`~neuroplastic.interop.from_nir` imports chains).
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from neuroplastic._core.atomic import atomic_path
from neuroplastic.interop._deps import require
from neuroplastic.interop._nir_common import _arr, check_cuba_exportable
from neuroplastic.interop._layers import FlattenDims, Scale, SumPool2d
from neuroplastic.interop.nir_network import network_to_nir
from neuroplastic.network.graph import Network
from neuroplastic.network.sequential import Sequential
from neuroplastic.neurons.alif import ALIF, ALIFCell
from neuroplastic.neurons.cuba_lif import CubaLIF
from neuroplastic.neurons.integrate_fire import IF
from neuroplastic.neurons.li import LI
from neuroplastic.neurons.lif import LIF
from neuroplastic.synapses.conv import AvgPool2d, MaxPool2d
from neuroplastic.synapses.dense import Flatten
from neuroplastic.synapses.recurrent import RecurrentLIF

SUPPORTED_LAYERS = ("Dense / nn.Linear", "Conv2d", "interop.Conv1d", "Flatten", "AvgPool2d", "interop.SumPool2d",
                    "interop.Scale", "LIF", "LI", "IF", "CubaLIF", "RecurrentLIF", "nn.Dropout / nn.Identity")


def _np(t: torch.Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().cpu().double().numpy()


def _check_reset(name: str, layer: nn.Module, approximate_reset: bool) -> None:
    p = layer.params
    if p.reset != "zero":
        msg = (f"layer {name} ({type(layer).__name__}) has reset={p.reset!r}, which NIR cannot express (NIR neurons "
               "reset to v_reset after a spike)")
        if not approximate_reset:
            raise ValueError(msg + f": build it with reset='zero', or pass approximate_reset=True to export it as a "
                             "reset to v_reset (the imported network's outputs will differ)")
        warnings.warn(msg + ": exported as a reset to v_reset (approximate_reset=True); outputs will differ",
                      UserWarning, stacklevel=4)
    if getattr(p, "t_ref", 0.0) > 0:
        raise ValueError(f"layer {name} ({type(layer).__name__}) has t_ref={p.t_ref}: NIR neurons have no refractory "
                         "period; build it with t_ref=0")


def _neuron_shape(name: str, shape: tuple[int, ...] | None) -> tuple[int, ...]:
    if shape is None:
        raise ValueError(f"the neuron count of layer {name} is unknown: pass sample_data (a time-first [T, B, ...] "
                         "input) or put a Dense before it")
    return shape


def _lif_node(nir: Any, name: str, layer: LIF, shape: tuple[int, ...], approximate_reset: bool) -> Any:
    _check_reset(name, layer, approximate_reset)
    p = layer.params
    return nir.LIF(tau=_arr(p.tau_mem, shape), r=_arr(p.r, shape), v_leak=_arr(p.v_leak, shape),
                   v_threshold=_arr(p.v_th, shape), v_reset=_arr(p.v_reset, shape))


def _if_node(nir: Any, name: str, layer: IF, shape: tuple[int, ...], approximate_reset: bool) -> Any:
    _check_reset(name, layer, approximate_reset)
    p = layer.params
    if bool(np.any(_arr(p.v_init, shape) != 0)):
        raise ValueError(f"layer {name} (IF) starts at v_init={p.v_init}: NIR has no initial membrane potential; "
                         "build it with v_init=0")
    return nir.IF(r=_arr(p.r, shape) / layer.dt, v_threshold=_arr(p.v_th, shape), v_reset=_arr(p.v_reset, shape))


def _cuba_node(nir: Any, name: str, layer: CubaLIF, shape: tuple[int, ...]) -> Any:
    p = layer.params
    check_cuba_exportable(f"layer {name} (CubaLIF)", p, shape, " or into the bias of the layer before")
    tau_syn = _arr(p.tau_syn_exc, shape)
    return nir.CubaLIF(tau_syn=tau_syn, tau_mem=_arr(p.tau_mem, shape), r=np.ones(shape), v_leak=_arr(p.v_rest, shape),
                       v_threshold=_arr(p.v_th, shape), v_reset=_arr(p.v_reset, shape), w_in=tau_syn / layer.dt)


def _affine(nir: Any, lin: nn.Linear) -> Any:
    if lin.bias is None:
        return nir.Linear(weight=_np(lin.weight))
    return nir.Affine(weight=_np(lin.weight), bias=_np(lin.bias))


def _pool_args(layer: nn.Module) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pair = nn.modules.utils._pair
    stride = layer.stride if layer.stride is not None else layer.kernel_size
    return (np.array(pair(layer.kernel_size)), np.array(pair(stride)), np.array(pair(layer.padding)))


def _layer_nodes(nir: Any, name: str, layer: nn.Module, in_shape: tuple[int, ...] | None,
                 out_shape: tuple[int, ...] | None, dt: list, approximate_reset: bool) -> list[tuple[str, Any]] | None:
    """NIR nodes of one layer in order (a chain), or None for an identity; raises for the unsupported."""
    if isinstance(layer, (nn.Dropout, nn.Identity)):
        return None
    if isinstance(layer, (LIF, LI, CubaLIF)) or isinstance(layer, RecurrentLIF):
        dt.append(layer.dt)
    if isinstance(layer, IF):  # before LIF: IF subclasses LIF
        return [(name, _if_node(nir, name, layer, _neuron_shape(name, out_shape), approximate_reset))]
    if isinstance(layer, (ALIF, ALIFCell)):
        raise ValueError(f"layer {name} (ALIF) has no NIR node (NIR has no adaptive threshold): replace it by LIF "
                         "before exporting; supported layers: " + ", ".join(SUPPORTED_LAYERS))
    if isinstance(layer, LIF):
        return [(name, _lif_node(nir, name, layer, _neuron_shape(name, out_shape), approximate_reset))]
    if isinstance(layer, LI):
        p, shape = layer.params, _neuron_shape(name, out_shape)
        return [(name, nir.LI(tau=_arr(p.tau_mem, shape), r=_arr(p.r, shape), v_leak=_arr(p.v_leak, shape)))]
    if isinstance(layer, CubaLIF):
        return [(name, _cuba_node(nir, name, layer, _neuron_shape(name, out_shape)))]
    if isinstance(layer, RecurrentLIF):
        shape = (layer.rec.in_features,)
        fake = LIF(dt=layer.dt, **{k: getattr(layer.params, k) for k in ("tau_mem", "v_th", "v_reset", "v_leak", "r",
                                                                          "t_ref", "reset")})
        return [(f"{name}.ff", _affine(nir, layer.ff)), (name, _lif_node(nir, name, fake, shape, approximate_reset)),
                (f"{name}.rec", nir.Linear(weight=_np(layer.rec.weight)))]
    if isinstance(layer, nn.Linear):
        return [(name, _affine(nir, layer))]
    if isinstance(layer, (nn.Conv2d, nn.Conv1d)):
        if layer.padding_mode != "zeros":
            raise ValueError(f"layer {name}: NIR convolutions pad with zeros, got padding_mode={layer.padding_mode!r}")
        bias = _np(layer.bias) if layer.bias is not None else np.zeros(layer.out_channels)
        spatial = None if in_shape is None else tuple(int(s) for s in in_shape[1:])
        padding = layer.padding if isinstance(layer.padding, str) else tuple(layer.padding)
        if isinstance(layer, nn.Conv2d):
            return [(name, nir.Conv2d(input_shape=spatial, weight=_np(layer.weight), stride=tuple(layer.stride),
                                      padding=padding, dilation=tuple(layer.dilation), groups=layer.groups, bias=bias))]
        return [(name, nir.Conv1d(input_shape=None if spatial is None else spatial[0], weight=_np(layer.weight),
                                  stride=layer.stride[0], padding=padding if isinstance(padding, str) else padding[0],
                                  dilation=layer.dilation[0], groups=layer.groups, bias=bias))]
    if isinstance(layer, Flatten):
        return [(name, nir.Flatten(input_type={"input": None if in_shape is None else np.array(in_shape)},
                                   start_dim=layer.keep_dims - 2, end_dim=-1))]
    if isinstance(layer, FlattenDims):
        return [(name, nir.Flatten(input_type={"input": None if in_shape is None else np.array(in_shape)},
                                   start_dim=layer.start_dim, end_dim=layer.end_dim))]
    if isinstance(layer, AvgPool2d):
        if layer.ceil_mode or layer.divisor_override is not None or (not layer.count_include_pad and any(_pool_args(layer)[2])):
            raise ValueError(f"layer {name} (AvgPool2d): NIR averages over the whole zero-padded window; use "
                             "ceil_mode=False, count_include_pad=True and no divisor_override")
        k, s, pad = _pool_args(layer)
        return [(name, nir.AvgPool2d(kernel_size=k, stride=s, padding=pad))]
    if isinstance(layer, SumPool2d):
        k, s, pad = (np.array(v) for v in (layer.kernel_size, layer.stride, layer.padding))
        return [(name, nir.SumPool2d(kernel_size=k, stride=s, padding=pad))]
    if isinstance(layer, Scale):
        return [(name, nir.Scale(scale=_np(torch.broadcast_to(layer.scale, out_shape) if out_shape else layer.scale)))]
    if isinstance(layer, MaxPool2d):
        raise ValueError(f"layer {name} (MaxPool2d) has no NIR node: use AvgPool2d (linear, so it commutes with rate "
                         "coding); supported layers: " + ", ".join(SUPPORTED_LAYERS))
    raise ValueError(f"layer {name} ({type(layer).__name__}) has no NIR node: supported layers are "
                     + ", ".join(SUPPORTED_LAYERS) + " (encoders run before the exported network)")


def _shapes(module: Sequential, sample_data: torch.Tensor | None) -> list[tuple[tuple[int, ...] | None, tuple[int, ...] | None]]:
    """Per layer, the shape of one sample of its input and output (NIR leaves out ``T`` and ``B``)."""
    n = len(module)
    if sample_data is not None:
        if not isinstance(sample_data, torch.Tensor) or sample_data.ndim < 3:
            raise ValueError("sample_data must be a time-first tensor [T, B, ...]: e.g. torch.zeros(1, 1, n_in)")
        with torch.no_grad():
            _, _, outs = module.forward_record(sample_data)
        dims = [tuple(sample_data.shape[2:])] + [tuple(o.shape[2:]) for o in outs]
        return [(dims[i], dims[i + 1]) for i in range(n)]
    shapes: list = []
    cur: tuple[int, ...] | None = None
    for layer in module:
        inp = cur
        if isinstance(layer, RecurrentLIF):
            inp = inp or (layer.ff.in_features,)
            cur = (layer.rec.in_features,)
        elif isinstance(layer, nn.Linear):
            inp = inp or (layer.in_features,)
            cur = (layer.out_features,)
        elif isinstance(layer, (LIF, LI, CubaLIF, nn.Dropout, nn.Identity, Scale)):
            pass
        else:
            cur = None
        shapes.append((inp, cur))
    return shapes


def to_nir(module: nn.Module | Network, sample_data: torch.Tensor | None = None, *, approximate_reset: bool = False,
           path: Any = None) -> Any:
    """Export a :class:`~neuroplastic.network.Sequential` (or one layer) as a ``nir.NIRGraph``.

    Args:
        module: the network (or a :class:`~neuroplastic.training.Model` around one); a single
            layer is exported as a one-layer network. A graph
            :class:`~neuroplastic.network.Network` exports through
            :func:`~neuroplastic.interop.nir_network.network_to_nir` (``sample_data`` unused).
        sample_data: a time-first input ``[T, B, ...]`` (one step is enough) from which the shapes of
            the nodes are taken; needed for convolutions, pooling and flattening, optional for
            dense networks.
        approximate_reset: export a subtractive (or absent) reset as NIR's reset to ``v_reset``,
            with a warning, instead of refusing.
        path: also write the graph there (``nir.write``, atomically).

    Returns:
        The ``nir.NIRGraph``, nodes named after the layers' indices (``"1"``; a
        ``RecurrentLIF`` at index ``i`` gives ``"i.ff"``, ``"i"``, ``"i.rec"``), with
        ``metadata = {"source": "neuroplastic", "dt": dt, "integration": "exact"}``.
    """
    nir = require("nir", "nir", "to_nir")
    if not isinstance(module, (nn.Module, Network)) and isinstance(getattr(module, "module", None), nn.Module):
        module = module.module  # a training.Model
    if isinstance(module, Network):
        graph = network_to_nir(module)
        if path is not None:
            write_nir(graph, path)
        return graph
    if not isinstance(module, Sequential):
        module = Sequential(module)
    was_training = module.training
    module.eval()
    try:
        shapes = _shapes(module, sample_data)
    finally:
        module.train(was_training)
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    dts: list[float] = []
    first_in = shapes[0][0] if shapes else None
    if first_in is None:
        raise ValueError("the input shape is unknown: pass sample_data (a time-first [T, B, ...] input)")
    nodes["input"] = nir.Input(input_type={"input": np.array(first_in)})
    prev = "input"
    last_shape = first_in
    for i, layer in enumerate(module):
        in_shape, out_shape = shapes[i]
        got = _layer_nodes(nir, str(i), layer, in_shape, out_shape, dts, approximate_reset)
        if got is None:
            continue
        if isinstance(layer, RecurrentLIF):
            (ff, ff_node), (lif, lif_node), (rec, rec_node) = got
            nodes.update({ff: ff_node, lif: lif_node, rec: rec_node})
            edges += [(prev, ff), (ff, lif), (lif, rec), (rec, lif)]
            prev = lif
        else:
            for name, node in got:
                nodes[name] = node
                edges.append((prev, name))
                prev = name
        last_shape = out_shape if out_shape is not None else last_shape
    if len(set(dts)) > 1:
        raise ValueError(f"the layers use different steps dt {sorted(set(dts))}: NIR's metadata holds one; "
                         "build every neuron with the same dt")
    nodes["output"] = nir.Output(output_type={"output": None if last_shape is None else np.array(last_shape)})
    edges.append((prev, "output"))
    metadata = {"source": "neuroplastic", "integration": "exact"}
    if dts:
        metadata["dt"] = float(dts[0])
    graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=sample_data is not None)
    if path is not None:
        write_nir(graph, path)
    return graph


def write_nir(graph: Any, path: Any) -> None:
    """``nir.write`` to a temporary sibling that is renamed over ``path`` (never a half-written file)."""
    nir = require("nir", "nir", "write_nir")
    with atomic_path(path, suffix=".nir") as tmp:
        nir.write(tmp, graph)
