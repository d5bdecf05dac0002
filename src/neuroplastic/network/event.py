r"""Clock-driven and event-driven execution of a :class:`~neuroplastic.network.graph.Network`.

Every step ``t`` runs the same schedule (Brian2's order: update, threshold, synapses, reset):

1. integrate every LIF neuron exactly over ``dt`` (:func:`~neuroplastic.network.graph.synaptic_propagator`):
   :math:`v \leftarrow v_\infty + (v - v_\infty)a + I_{exc} b_{exc} + I_{inh} b_{inh}` unless
   refractory, :math:`I \leftarrow c\,I` always;
2. spike where ``v > v_th`` (not refractory): ``v = v_reset``, refractory for ``t_ref``;
   spike sources fire their scheduled neurons;
3. propagate: a spike of neuron ``i`` adds ``w_ij`` to slot ``(t + d) mod R`` of a ring buffer
   of postsynaptic input (``R = max_delay + 1``, one row per receptor);
4. deliver: add ring slot ``t mod R`` to the currents and clear it.

So an event with delay ``d`` emitted at step ``t`` is in ``I`` after step ``t + d`` and moves
``v`` from step ``t + d + 1`` on. The two modes differ only in step 3:

* ``mode="clock"`` (the reference): every projection multiplies the whole presynaptic spike
  vector by its weight matrix, touching all synapses (steps without any spike skip the
  product, which would add exact zeros);
* ``mode="event"``: only the CSR rows of the neurons that spiked are read and scatter-added into
  the ring buffer, so the synaptic work is proportional to spikes x fan-out. Implementations of
  op ``"event_run"``: ``"reference"`` (a torch loop, here) and ``"cpu_c"`` (the whole loop in C,
  :mod:`neuroplastic.network._event_c`), which gives bit-identical spikes in float32 and float64.

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
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Sequence

import torch

from neuroplastic._core.checks import check_in_choices
from neuroplastic._core.registry import get_backend, register_backend
from neuroplastic.network.graph import Network, SpikeSource, to_steps

_CONST_NAMES = ("a", "b_exc", "b_inh", "c_exc", "c_inh", "v_inf", "v_th", "v_reset")
DENSE_LIMIT = 1 << 22  # the clock reference keeps projections up to this many pairs as dense matrices


class GraphState(NamedTuple):
    """State of a whole network (all populations concatenated in insertion order).

    Attributes:
        v: membrane potentials ``[N]``.
        i_exc: excitatory currents ``[N]`` (voltage units).
        i_inh: inhibitory currents ``[N]``.
        ref: remaining refractory steps ``[N]`` (int32).
        ring: pending synaptic input ``[R, 2, N]``; slot ``s mod R`` is delivered at step ``s``.
        step: index of the next step (0-d int64).
    """

    v: torch.Tensor
    i_exc: torch.Tensor
    i_inh: torch.Tensor
    ref: torch.Tensor
    ring: torch.Tensor
    step: torch.Tensor


class RunOutput(NamedTuple):
    """What an ``"event_run"`` engine returns: final state, spikes (global index, step), records.

    ``record`` is ``[n_recorded_steps, 3, K]`` with rows ``v, i_exc, i_inh`` of the ``K``
    requested neurons after each step flagged in ``rec_mask``.
    """

    state: GraphState
    spike_idx: torch.Tensor
    spike_step: torch.Tensor
    record: torch.Tensor


@dataclass(frozen=True)
class CompiledNetwork:
    """Flat arrays of a network for one dtype/device (built once by :func:`compile_network`)."""

    dt: float
    n: int
    ring_size: int
    dtype: torch.dtype
    device: torch.device
    pops: tuple[tuple[str, int, int, bool], ...]  # name, start, stop, is_lif
    pconst: torch.Tensor  # [P, 8] float64 constants per population (_CONST_NAMES)
    pnref: torch.Tensor  # [P] int32 refractory steps
    neuron: dict[str, torch.Tensor]  # per-neuron copies of the constants (dtype), "n_ref" int32
    indptr: torch.Tensor  # [N + 1] int64, global CSR over presynaptic neurons
    offset: torch.Tensor  # [nnz] int32: delay * 2N + receptor * N + global post index
    weight: torch.Tensor  # [nnz] dtype
    src_idx: torch.Tensor  # [S] int64 global, sorted by (step, index)
    src_step: torch.Tensor  # [S] int64
    clock: tuple[tuple[int, int, int, int, int, int, Any], ...]  # pre/post ranges, receptor, delay, Projection
    v_init: tuple[Any, ...]
    seed: int
    cache: dict = field(default_factory=dict, compare=False, repr=False)


def compile_network(net: Network, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> CompiledNetwork:
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
            consts.append([c[k] for k in _CONST_NAMES])
            nrefs.append(c["n_ref"])
            v_init.append(pop.params.v_rest if pop.v_init is None else pop.v_init)
        else:  # inert state: v stays, currents stay zero, never crosses an infinite threshold
            consts.append([1.0, 0.0, 0.0, 0.0, 0.0, 0.0, float("inf"), 0.0])
            nrefs.append(0)
            v_init.append(0.0)
            src_i.append(pop.indices + start)
            src_s.append(pop.steps)
    pconst = torch.tensor(consts, dtype=torch.float64)
    sizes = torch.tensor([stop - start for _, start, stop, _ in pops])
    neuron = {k: torch.repeat_interleave(pconst[:, j], sizes).to(dtype) for j, k in enumerate(_CONST_NAMES)}
    neuron["n_ref"] = torch.repeat_interleave(torch.tensor(nrefs, dtype=torch.int32), sizes)
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
    else:
        offset, weight = torch.zeros(0, dtype=torch.int32), torch.zeros(0, dtype=torch.float64)
        indptr = torch.zeros(n + 1, dtype=torch.int64)
    cn = CompiledNetwork(
        dt, n, ring_size, dtype, device, tuple(pops), pconst, torch.tensor(nrefs, dtype=torch.int32),
        {k: v.to(device) for k, v in neuron.items()}, indptr.to(device), offset.contiguous().to(device),
        weight.to(dtype).contiguous().to(device), si.to(device), ss.to(device), tuple(clock), tuple(v_init), net.seed,
    )
    net._compiled = {k: v for k, v in net._compiled.items() if k[0] == net._version}
    net._compiled[key] = cn
    return cn


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
    return GraphState(v, z, z.clone(), torch.zeros(cn.n, dtype=torch.int32, device=cn.device),
                      torch.zeros(cn.ring_size, 2, cn.n, dtype=cn.dtype, device=cn.device),
                      torch.zeros((), dtype=torch.int64))


def check_state(cn: CompiledNetwork, state: GraphState) -> GraphState:
    """Raise a clear error unless ``state`` fits the compiled network."""
    if not isinstance(state, GraphState):
        raise TypeError(f"state must be a GraphState, got {type(state).__name__}: pass state=None to start fresh")
    if state.v.shape != (cn.n,) or state.ring.shape != (cn.ring_size, 2, cn.n):
        raise ValueError(f"state is for {state.v.shape[0]} neurons / ring {tuple(state.ring.shape)}, the network has "
                         f"{cn.n} / {(cn.ring_size, 2, cn.n)}: pass state=None to start fresh")
    return state


# --------------------------------------------------------------------------- torch engines
def _integrate(cn: CompiledNetwork, v, ie, ii, ref):
    """Steps 1-2 for all neurons; returns (v, ie, ii, ref, spiked mask)."""
    p = cn.neuron
    ref = (ref - 1).clamp_min(0)
    active = ref == 0
    vn = p["v_inf"] + (v - p["v_inf"]) * p["a"] + ie * p["b_exc"] + ii * p["b_inh"]
    vn = torch.where(active, vn, v)
    ie, ii = ie * p["c_exc"], ii * p["c_inh"]
    s = active & (vn > p["v_th"])
    return torch.where(s, p["v_reset"], vn), ie, ii, torch.where(s, p["n_ref"], ref), s


def _loop(cn: CompiledNetwork, state: GraphState, n_steps: int, rec_idx: torch.Tensor, rec_mask: torch.Tensor,
          propagate) -> RunOutput:
    check_state(cn, state)
    v, ie, ii, ref = state.v, state.i_exc, state.i_inh, state.ref
    ring = state.ring.clone()
    step0, R = int(state.step), cn.ring_size
    bounds = torch.searchsorted(cn.src_step, torch.arange(step0, step0 + n_steps + 1, device=cn.src_step.device)).tolist()
    mask_list = rec_mask.tolist()
    spikes, steps, records = [], [], []
    for t in range(n_steps):
        step = step0 + t
        v, ie, ii, ref, s = _integrate(cn, v, ie, ii, ref)
        if bounds[t + 1] > bounds[t]:
            s = s.clone()
            s[cn.src_idx[bounds[t]:bounds[t + 1]]] = True
        idx = torch.nonzero(s).squeeze(1)
        if idx.numel():
            propagate(ring, s, idx, step)
            spikes.append(idx)
            steps.append(torch.full_like(idx, step))
        slot = step % R
        ie, ii = ie + ring[slot, 0], ii + ring[slot, 1]
        ring[slot] = 0
        if mask_list[t]:
            records.append(torch.stack([v[rec_idx], ie[rec_idx], ii[rec_idx]]))
    cat = lambda xs: torch.cat(xs) if xs else torch.zeros(0, dtype=torch.int64, device=v.device)  # noqa: E731
    record = torch.stack(records) if records else torch.zeros(0, 3, rec_idx.numel(), dtype=cn.dtype, device=v.device)
    new = GraphState(v, ie, ii, ref, ring, torch.tensor(step0 + n_steps, dtype=torch.int64))
    return RunOutput(new, cat(spikes), cat(steps), record)


@register_backend("event_run", "reference", device_types=("any",), priority=0)
def event_run_reference(cn: CompiledNetwork, state: GraphState, n_steps: int, rec_idx: torch.Tensor,
                        rec_mask: torch.Tensor) -> RunOutput:
    """Event-driven engine in torch: gathers the CSR rows of the spiking neurons each step.

    The contributions are scatter-added in spike order, row by row, into the flattened ring
    buffer (``index_add_``, sequential on CPU); the C engine sums in the same order.
    """
    ring_len = cn.ring_size * 2 * cn.n

    def propagate(ring: torch.Tensor, s: torch.Tensor, idx: torch.Tensor, step: int) -> None:
        start = cn.indptr[idx]
        count = cn.indptr[idx + 1] - start
        total = int(count.sum())
        if total == 0:
            return
        first = torch.cumsum(count, 0) - count
        ent = torch.repeat_interleave(start - first, count) + torch.arange(total, device=idx.device)
        pos = cn.offset[ent] + (step % cn.ring_size) * 2 * cn.n
        pos = torch.where(pos >= ring_len, pos - ring_len, pos)
        ring.view(-1).index_add_(0, pos, cn.weight[ent])

    return _loop(cn, state, n_steps, rec_idx, rec_mask, propagate)


def clock_matrices(cn: CompiledNetwork) -> list[torch.Tensor]:
    """Per projection ``W^T`` ``[n_post, n_pre]`` (dense up to ``DENSE_LIMIT`` pairs, else CSR), built once."""
    if "clock" not in cn.cache:
        mats = []
        for a0, a1, b0, b1, _, _, proj in cn.clock:
            n_pre, n_post = a1 - a0, b1 - b0
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
    """Clock-driven reference: every projection computes ``W^T s`` over all its synapses each step."""

    mats = clock_matrices(cn)

    def propagate(ring: torch.Tensor, s: torch.Tensor, idx: torch.Tensor, step: int) -> None:
        sf = s.to(cn.dtype)
        for (a0, a1, b0, b1, rec, d, _), w in zip(cn.clock, mats):
            x = sf[a0:a1]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                contrib = torch.mv(w, x)
            ring[(step + d) % cn.ring_size, rec, b0:b1] += contrib

    return _loop(cn, state, n_steps, rec_idx, rec_mask, propagate)


# --------------------------------------------------------------------------- user entry point
def run_network(net: Network, duration: float | None = None, *, steps: int | None = None,
                state: GraphState | None = None, monitors: Sequence[Any] = (), mode: str = "event",
                backend: str | None = None, dtype: torch.dtype | None = None,
                device: torch.device | str = "cpu") -> GraphState:
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
            default: the fastest available for the device.
        dtype: float32 (default for a fresh state) or float64; taken from ``state`` when given.
        device: device of a fresh state.

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
        out = get_backend("event_run", cn.device, name=backend)(cn, state, n_steps, rec_idx, rec_mask)
    col = 0
    for m, w in zip(monitors, wanted):
        k = 0 if w is None else w[0].numel()
        m.collect(out, step0, n_steps, rec_mask, slice(col, col + k))
        col += k
    return out.state


# the compiled engine registers itself beside the reference
from neuroplastic.network import _event_c  # noqa: E402,F401
