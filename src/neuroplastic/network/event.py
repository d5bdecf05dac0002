r"""Clock-driven and event-driven execution of a :class:`~neuroplastic.network.graph.Network`.

Every step ``t`` runs the same schedule (Brian2's order: update, threshold, synapses, reset):

1. integrate every neuron exactly over ``dt`` with the library's CUBA LIF step
   (:func:`~neuroplastic.neurons.cuba_lif.cuba_lif_integrate`, per-neuron constants):
   :math:`v \leftarrow v_\infty + (v - v_\infty)a + I_{exc} b_{exc} + I_{inh} b_{inh}` unless
   refractory, :math:`I \leftarrow c\,I` always;
2. spike where ``v > v_th`` (not refractory): ``v = v_reset``, refractory for ``t_ref``;
   spike sources fire their scheduled neurons;
3. propagate: a spike of neuron ``i`` adds ``w_ij`` to slot ``(t + d) mod R`` of a ring buffer
   of postsynaptic input (``R = max_delay + 1``, one row per receptor);
3b. plasticity (if any projection has a rule): the rule's traces advance one tick and the
   weights change, after this step's propagation (:mod:`neuroplastic.network.plastic`);
4. deliver: add ring slot ``t mod R`` to the currents and clear it.

So an event with delay ``d`` emitted at step ``t`` is in ``I`` after step ``t + d`` and moves
``v`` from step ``t + d + 1`` on. The two modes differ only in step 3:

* ``mode="clock"`` (the reference): every projection multiplies the whole presynaptic spike
  vector by its weight matrix, touching all synapses (steps without any spike skip the
  product, which would add exact zeros);
* ``mode="event"``: only the CSR rows of the neurons that spiked are read and scatter-added into
  the ring buffer, so the synaptic work is proportional to spikes x fan-out. Implementations of
  op ``"event_run"``: ``"reference"`` (a torch loop, here) and ``"cpu_c"`` (the whole loop in C,
  :mod:`neuroplastic.network._event_c`), which gives bit-identical spikes in float32 and float64,
  picked by the backend registry. A network with a plastic projection runs op
  ``"event_run_plastic"`` (the torch reference, which only touches the synapses of neurons that
  spiked); the clock reference updates every synapse with the rule's dense step.

Neuron updates stay clock-driven in both modes: with ``v_rest + i_bias > v_th`` (as in CUBA)
neurons fire without input, so they cannot sleep between input events without spike-time
prediction. Clock and event modes add the same synaptic weights in a different order (a
gemv over the spike vector vs. a scatter in spike order). Floating-point addition is not
associative, so when a ring slot sums three or more different weights for one neuron the
current can differ in the last bit: ~1e-19 V in float64, never enough to move a spike in
practice (the tests require identical trains), but ~1e-9 V in float32, which moves a spike when
a membrane lands that close to threshold; in a recurrent network that one displaced spike then
changes all later activity. (Measured on a 400-neuron CUBA with heterogeneous weights, 1 s:
identical trains in float32 too, so this is rare, not excluded.)
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Callable, Sequence

import torch

from neuroplastic._core.checks import check_in_choices
from neuroplastic._core.registry import get_backend, register_backend
from neuroplastic.network import _event_c  # noqa: F401  (registers the "cpu_c" engine beside the reference)
from neuroplastic.network._types import (
    CONST_NAMES,
    CompiledNetwork,
    GraphState,
    PlasticLink,
    RunOutput,
    check_state,
)
from neuroplastic.network.plastic import clock_update_, dense_weight, event_update_, gather_ranges
from neuroplastic.network.topology import SpikeSource, to_steps
from neuroplastic.neurons.cuba_lif import CubaLIFConstants, CubaLIFState, cuba_lif_integrate

if TYPE_CHECKING:
    from neuroplastic.network.graph import Network

__all__ = [
    "CompiledNetwork", "GraphState", "RunOutput", "check_state", "clock_run", "compile_network",
    "event_run_reference", "init_state", "run_network",
]

DENSE_LIMIT = 1 << 22  # the clock reference keeps projections up to this many pairs as dense matrices
_INERT = (1.0, 0.0, 0.0, 0.0, 0.0, 0.0, float("inf"), 0.0)  # a source: v stays, never crosses threshold


def compile_network(net: "Network", dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> CompiledNetwork:
    """Flatten ``net`` into global arrays (cached on the network until it changes)."""
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    device = torch.device(device)
    key = (net._version, dtype, device)
    if key in net._compiled:
        return net._compiled[key]
    if not net.populations:
        raise ValueError("the network has no populations: add_population first")
    n, dt = net.n_neurons, net.dt
    offsets = net.offsets()
    pops, consts, nrefs, v_init, src_i, src_s = [], [], [], [], [], []
    for name, pop in net.populations.items():
        start, stop = offsets[name]
        is_lif = not isinstance(pop, SpikeSource)
        pops.append((name, start, stop, is_lif))
        if is_lif:
            c = pop.params.constants(dt)
            consts.append([getattr(c, k) for k in CONST_NAMES])
            nrefs.append(c.n_ref)
            v_init.append(pop.params.v_rest if pop.v_init is None else pop.v_init)
        else:  # inert state: v stays, currents stay zero, never crosses an infinite threshold
            consts.append(list(_INERT))
            nrefs.append(0)
            v_init.append(0.0)
            src_i.append(pop.indices + start)
            src_s.append(pop.steps)
    pconst = torch.tensor(consts, dtype=torch.float64)
    sizes = torch.tensor([stop - start for _, start, stop, _ in pops])
    per = {k: torch.repeat_interleave(pconst[:, j], sizes).to(dtype).to(device) for j, k in enumerate(CONST_NAMES)}
    per["n_ref"] = torch.repeat_interleave(torch.tensor(nrefs, dtype=torch.int32), sizes).to(device)
    # sources: sort all scheduled spikes by (step, global index)
    si = torch.cat(src_i) if src_i else torch.zeros(0, dtype=torch.int64)
    ss = torch.cat(src_s) if src_s else torch.zeros(0, dtype=torch.int64)
    order = torch.argsort(ss * n + si)
    si, ss = si[order], ss[order]

    ring_size = 1 + max((p.delay_steps for p in net.projections), default=0)
    rows, offs, ws, clock = [], [], [], []
    for proj in net.projections:
        (a0, a1), (b0, b1) = offsets[proj.pre], offsets[proj.post]
        rec = 0 if proj.receptor == "exc" else 1
        rows.append(a0 + torch.repeat_interleave(torch.arange(a1 - a0), proj.indptr.diff()))
        offs.append(proj.delay_steps * 2 * n + rec * n + b0 + proj.indices)
        ws.append(proj.weights)
        clock.append((a0, a1, b0, b1, rec, proj.delay_steps, proj))
    if ring_size * 2 * n >= 2**31:
        raise ValueError(f"ring buffer of {ring_size} x 2 x {n} entries exceeds int32 indexing: shorten the delays")
    if rows:
        row = torch.cat(rows)
        order = torch.sort(row, stable=True).indices  # within a row: projection order, then target
        offset, weight = torch.cat(offs)[order].to(torch.int32), torch.cat(ws)[order]
        indptr = torch.cat([torch.zeros(1, dtype=torch.int64), torch.cumsum(torch.bincount(row, minlength=n), 0)])
        gpos_all = torch.empty_like(order)
        gpos_all[order] = torch.arange(order.numel())  # where each projection's synapse went
        gpos = torch.split(gpos_all, [p.n_synapses for p in net.projections])
    else:
        offset, weight = torch.zeros(0, dtype=torch.int32), torch.zeros(0, dtype=torch.float64)
        indptr = torch.zeros(n + 1, dtype=torch.int64)
        gpos = ()
    plastic = tuple(_plastic_link(c, g, device) for c, g in zip(clock, gpos) if c[6].plasticity is not None)
    cn = CompiledNetwork(
        dt, n, ring_size, dtype, device, tuple(pops), pconst, torch.tensor(nrefs, dtype=torch.int32),
        CubaLIFConstants(**per), indptr.to(device), offset.contiguous().to(device),
        weight.to(dtype).contiguous().to(device), si.to(device), ss.to(device), tuple(clock), tuple(v_init), net.seed,
        plastic, tuple(g.to(device) for g in gpos),
    )
    net._compiled = {k: v for k, v in net._compiled.items() if k[0] == net._version}
    net._compiled[key] = cn
    return cn


def _plastic_link(clock_entry: tuple, gpos: torch.Tensor, device: torch.device) -> PlasticLink:
    a0, a1, b0, b1, _, _, proj = clock_entry
    pre_local = torch.repeat_interleave(torch.arange(a1 - a0), proj.indptr.diff())
    post_local = proj.indices.to(torch.int64)
    col_perm = torch.argsort(post_local, stable=True)
    col_ptr = torch.cat([torch.zeros(1, dtype=torch.int64),
                         torch.cumsum(torch.bincount(post_local, minlength=b1 - b0), 0)])
    t = lambda x: x.to(device)  # noqa: E731
    return PlasticLink(proj.name, proj.plasticity, (a0, a1), (b0, b1), t(pre_local), t(post_local), t(gpos),
                       t(proj.indptr), t(col_ptr), t(col_perm), float(proj.wmin), float(proj.wmax))


def init_state(cn: CompiledNetwork) -> GraphState:
    """Initial state: ``v`` from each population's ``v_init`` (random ranges drawn from the seed)."""
    g = torch.Generator().manual_seed(cn.seed * 1_000_003 + 999_983)
    parts = []
    for (name, start, stop, _), spec in zip(cn.pops, cn.v_init):
        size = stop - start
        if isinstance(spec, torch.Tensor):
            parts.append(spec.detach().to(torch.float64).reshape(size))
        elif isinstance(spec, tuple):
            parts.append(spec[0] + (spec[1] - spec[0]) * torch.rand(size, generator=g, dtype=torch.float64))
        else:
            parts.append(torch.full((size,), float(spec), dtype=torch.float64))
    v = torch.cat(parts).to(cn.dtype).to(cn.device)
    z = torch.zeros(cn.n, dtype=cn.dtype, device=cn.device)
    weight, traces = None, ()
    if cn.plastic:
        weight = cn.weight.clone()
        traces = tuple(_rule_init(link, cn) for link in cn.plastic)
    return GraphState(v, z, z.clone(), torch.zeros(cn.n, dtype=torch.int32, device=cn.device),
                      torch.zeros(cn.ring_size, 2, cn.n, dtype=cn.dtype, device=cn.device),
                      torch.zeros((), dtype=torch.int64), weight, traces)


def _rule_init(link: PlasticLink, cn: CompiledNetwork) -> Any:
    (a0, a1), (b0, b1) = link.pre, link.post
    pre = torch.zeros(1, a1 - a0, dtype=cn.dtype, device=cn.device)
    post = torch.zeros(1, b1 - b0, dtype=cn.dtype, device=cn.device)
    shape_only = torch.zeros((), dtype=cn.dtype, device=cn.device).expand(b1 - b0, a1 - a0)  # no n_post x n_pre memory
    return link.rule.init_state(pre, post, shape_only)


# --------------------------------------------------------------------------- torch engines
Propagate = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, int, torch.Tensor], None]


def _loop(cn: CompiledNetwork, state: GraphState, n_steps: int, rec_idx: torch.Tensor, rec_mask: torch.Tensor,
          propagate: Propagate, learn: Callable | None = None) -> RunOutput:
    check_state(cn, state)
    cur = CubaLIFState(state.v, state.i_exc, state.i_inh, state.ref)
    ring = state.ring.clone()
    weight = cn.weight if state.weight is None else state.weight.clone()
    traces = list(state.plasticity)
    plastic = learn is not None and bool(cn.plastic)
    step0, R = int(state.step), cn.ring_size
    bounds = torch.searchsorted(cn.src_step, torch.arange(step0, step0 + n_steps + 1, device=cn.src_step.device)).tolist()
    mask_list = rec_mask.tolist()
    spikes, steps, records = [], [], []
    n_updates = 0
    for t in range(n_steps):
        step = step0 + t
        s, cur = cuba_lif_integrate(cur, cn.consts)
        if bounds[t + 1] > bounds[t]:
            s = s.clone()
            s[cn.src_idx[bounds[t]:bounds[t + 1]]] = True
        idx = torch.nonzero(s).squeeze(1)
        if idx.numel():
            propagate(ring, s, idx, step, weight)
            spikes.append(idx)
            steps.append(torch.full_like(idx, step))
        if plastic:  # traces tick every step, weights change where spikes were
            for q, link in enumerate(cn.plastic):
                traces[q], k = learn(link, weight, s, traces[q])
                n_updates += k
        slot = step % R
        cur = cur._replace(i_exc=cur.i_exc + ring[slot, 0], i_inh=cur.i_inh + ring[slot, 1])
        ring[slot] = 0
        if mask_list[t]:
            records.append(torch.stack([cur.v[rec_idx], cur.i_exc[rec_idx], cur.i_inh[rec_idx]]))
    dev = cur.v.device
    cat = lambda xs: torch.cat(xs) if xs else torch.zeros(0, dtype=torch.int64, device=dev)  # noqa: E731
    record = torch.stack(records) if records else torch.zeros(0, 3, rec_idx.numel(), dtype=cn.dtype, device=dev)
    new = GraphState(cur.v, cur.i_exc, cur.i_inh, cur.ref, ring, torch.tensor(step0 + n_steps, dtype=torch.int64),
                     None if state.weight is None else weight, tuple(traces))
    return RunOutput(new, cat(spikes), cat(steps), record, n_updates)


@register_backend("event_run", "reference", device_types=("any",), priority=0)
def event_run_reference(cn: CompiledNetwork, state: GraphState, n_steps: int, rec_idx: torch.Tensor,
                        rec_mask: torch.Tensor) -> RunOutput:
    """Event-driven engine in torch: gathers the CSR rows of the spiking neurons each step.

    The contributions are scatter-added in spike order, row by row, into the flattened ring
    buffer (``index_add_``, sequential on CPU); the C engine sums in the same order. Plastic
    projections are updated event-driven (:func:`~neuroplastic.network.plastic.event_update_`).
    """
    ring_len = cn.ring_size * 2 * cn.n

    def propagate(ring: torch.Tensor, s: torch.Tensor, idx: torch.Tensor, step: int, weight: torch.Tensor) -> None:
        ent = gather_ranges(cn.indptr, idx)
        if ent.numel() == 0:
            return
        pos = cn.offset[ent] + (step % cn.ring_size) * 2 * cn.n
        pos = torch.where(pos >= ring_len, pos - ring_len, pos)
        ring.view(-1).index_add_(0, pos, weight[ent])

    return _loop(cn, state, n_steps, rec_idx, rec_mask, propagate, event_update_)


#: The torch reference is the engine of plastic networks (the C engine has no plasticity).
register_backend("event_run_plastic", "reference", device_types=("any",), priority=0)(event_run_reference)


def clock_matrices(cn: CompiledNetwork) -> list[torch.Tensor | None]:
    """Per projection ``W^T`` ``[n_post, n_pre]`` (dense up to ``DENSE_LIMIT`` pairs, else CSR), built
    once; None for a plastic projection, whose matrix is rebuilt from the current weights each step."""
    if "clock" not in cn.cache:
        mats: list[torch.Tensor | None] = []
        for a0, a1, b0, b1, _, _, proj in cn.clock:
            n_pre, n_post = a1 - a0, b1 - b0
            if proj.plasticity is not None:
                mats.append(None)
                continue
            if n_pre * n_post <= DENSE_LIMIT:
                w = proj.to_dense(n_pre, n_post).t().contiguous()
            else:
                pre = torch.repeat_interleave(torch.arange(n_pre), proj.indptr.diff())
                order = torch.argsort(proj.indices * n_pre + pre, stable=True)
                crow = torch.cat([torch.zeros(1, dtype=torch.int64),
                                  torch.cumsum(torch.bincount(proj.indices, minlength=n_post), 0)])
                with warnings.catch_warnings():  # "sparse CSR support is in beta"
                    warnings.simplefilter("ignore", UserWarning)
                    w = torch.sparse_csr_tensor(crow, pre[order], proj.weights[order], (n_post, n_pre))
            mats.append(w.to(cn.dtype).to(cn.device))
        cn.cache["clock"] = mats
    return cn.cache["clock"]


def clock_run(cn: CompiledNetwork, state: GraphState, n_steps: int, rec_idx: torch.Tensor,
              rec_mask: torch.Tensor) -> RunOutput:
    """Clock-driven reference: every projection computes ``W^T s`` over all its synapses each step,
    and every plastic synapse is updated each step by the rule's dense ``step``."""

    mats = clock_matrices(cn)
    links = {link.name: link for link in cn.plastic}

    def propagate(ring: torch.Tensor, s: torch.Tensor, idx: torch.Tensor, step: int, weight: torch.Tensor) -> None:
        sf = s.to(cn.dtype)
        for (a0, a1, b0, b1, rec, d, proj), w in zip(cn.clock, mats):
            if w is None:
                w = dense_weight(links[proj.name], weight)
            x = sf[a0:a1]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                contrib = torch.mv(w, x)
            ring[(step + d) % cn.ring_size, rec, b0:b1] += contrib

    return _loop(cn, state, n_steps, rec_idx, rec_mask, propagate, clock_update_)


# --------------------------------------------------------------------------- user entry point
def run_network(net: "Network", duration: float | None = None, *, steps: int | None = None,
                state: GraphState | None = None, monitors: Sequence[Any] = (), mode: str = "event",
                backend: str | None = None, dtype: torch.dtype | None = None,
                device: torch.device | str = "cpu", stats: dict | None = None) -> GraphState:
    """Simulate ``net`` for ``duration`` seconds (or ``steps`` steps) and return the final state.

    Args:
        net: the network.
        duration: simulated time in seconds (a multiple of ``net.dt``), or
        steps: the number of steps.
        state: a :class:`GraphState` to continue from (``None``: :meth:`Network.init_state`).
        monitors: :class:`~neuroplastic.network.monitors.SpikeMonitor` /
            :class:`~neuroplastic.network.monitors.StateMonitor` objects; they accumulate across runs.
        mode: ``"event"`` (default) or ``"clock"`` (the all-synapses reference).
        backend: an ``"event_run"`` implementation by name (``"reference"``, ``"cpu_c"``);
            default: the fastest available for the device (a network with plasticity runs op
            ``"event_run_plastic"``, whose engine is the torch ``"reference"``).
        dtype: float32 (default for a fresh state) or float64; taken from ``state`` when given.
        device: device of a fresh state.
        stats: a dict to receive counts of this run: ``"spikes"``, ``"synaptic_events"`` (spikes x
            fan-out: the synaptic operations an event-driven machine performs) and
            ``"weight_updates"`` (synapse updates made by plasticity).

    Example:
        >>> from neuroplastic.network.graph import cuba_network
        >>> from neuroplastic.network.monitors import SpikeMonitor
        >>> net = cuba_network(200, connection_probability=0.2)
        >>> mon = SpikeMonitor()
        >>> state = net.run(0.01, monitors=[mon])
        >>> int(state.step), mon.count > 0
        (100, True)
    """
    check_in_choices("mode", mode, ("event", "clock"))
    if mode == "clock" and backend is not None:
        raise ValueError("backend selects an event-driven engine: leave it None with mode='clock'")
    if (duration is None) == (steps is None):
        raise ValueError("pass exactly one of duration (seconds) or steps")
    n_steps = to_steps("duration", duration, net.dt) if steps is None else int(steps)
    if n_steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if state is not None:
        dtype, device = state.v.dtype, state.v.device
    cn = compile_network(net, dtype or torch.float32, device)
    state = init_state(cn) if state is None else check_state(cn, state)
    step0 = int(state.step)
    for m in monitors:
        m.bind(net, cn)
    wanted = [m.plan(step0, n_steps) for m in monitors]  # (global neuron indices, step mask) or None
    rec_parts = [w[0] for w in wanted if w is not None]
    rec_idx = torch.cat(rec_parts).to(cn.device) if rec_parts else torch.zeros(0, dtype=torch.int64, device=cn.device)
    rec_mask = torch.zeros(n_steps, dtype=torch.bool)
    for w in wanted:
        if w is not None:
            rec_mask |= w[1]
    if mode == "clock":
        out = clock_run(cn, state, n_steps, rec_idx, rec_mask)
    else:
        op = "event_run_plastic" if cn.plastic else "event_run"
        out = get_backend(op, cn.device, name=backend)(cn, state, n_steps, rec_idx, rec_mask)
    col = 0
    for m, w in zip(monitors, wanted):
        k = 0 if w is None else w[0].numel()
        m.collect(out, step0, n_steps, rec_mask, slice(col, col + k))
        col += k
    if stats is not None:
        fan_out = cn.indptr.diff()
        stats["spikes"] = int(out.spike_idx.numel())
        stats["synaptic_events"] = int(fan_out[out.spike_idx].sum()) if out.spike_idx.numel() else 0
        stats["weight_updates"] = int(out.weight_updates)
    return out.state
