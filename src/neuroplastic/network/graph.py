r"""Graph-structured spiking networks: named populations (V) joined by projections (E).

Neurons are the library's current-based leaky integrate-and-fire units
(:mod:`neuroplastic.neurons.cuba_lif`, exponential synapses, currents in voltage units as in
Brian2's CUBA example):

.. math::
    \tau_m \dot v = -(v - v_{rest}) + I_{exc} + I_{inh} + I_{bias},\qquad
    \tau_{exc} \dot I_{exc} = -I_{exc},\qquad \tau_{inh} \dot I_{inh} = -I_{inh}.

Over one step the linear system is integrated exactly (see :func:`synaptic_propagator`); a spike
``v > v_th`` resets ``v`` to ``v_reset`` and freezes it for ``t_ref``, while the synaptic currents
keep decaying and integrating input. A presynaptic spike adds the synapse weight ``w`` to the
postsynaptic ``I_exc`` or ``I_inh`` (the projection's ``receptor``) ``delay`` steps later. A
projection may learn with STDP (``connect(..., plasticity=STDP(dt=net.dt))``), see
:mod:`neuroplastic.network.plastic`.

Example:
    >>> from neuroplastic.network.graph import Network, fixed_probability
    >>> net = Network(dt=1e-4, seed=0)
    >>> exc = net.add_population("E", 80, v_init=(-60e-3, -50e-3))
    >>> inh = net.add_population("I", 20)
    >>> proj = net.connect("E", "I", fixed_probability(0.1), weight=1.6e-3, delay_steps=2)
    >>> proj.delay_steps, net.n_neurons
    (2, 100)
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

import torch

from neuroplastic._core.checks import check_in_choices, check_positive
from neuroplastic.network.event import GraphState, compile_network, init_state, run_network
from neuroplastic.network.topology import (
    RECEPTORS,
    AllToAll,
    Connector,
    FixedProbability,
    FromList,
    OneToOne,
    Population,
    Projection,
    SpikeSource,
    all_to_all,
    check_size,
    csr_from,
    fixed_probability,
    from_list,
    one_to_one,
    synaptic_propagator,
    to_steps,
)
from neuroplastic.neurons.cuba_lif import CubaLIFParams
from neuroplastic.plasticity import Rule, get_rule
from neuroplastic.plasticity.base import check_bounds

__all__ = [
    "AllToAll", "Connector", "CubaLIFParams", "FixedProbability", "FromList", "Network",
    "OneToOne", "Population", "Projection", "SpikeSource", "all_to_all", "cuba_network", "fixed_probability",
    "from_list", "one_to_one", "synaptic_propagator", "to_steps",
]


def __getattr__(name: str) -> Any:
    if name == "CurrentLIFParams":  # the network's private neuron before it moved to neurons/
        warnings.warn("CurrentLIFParams is deprecated: use neuroplastic.neurons.CubaLIFParams (same fields)",
                      DeprecationWarning, stacklevel=2)
        return CubaLIFParams
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Network:
    """A graph of populations and projections, run clock- or event-driven by :meth:`run`.

    Args:
        dt: time step in seconds.
        seed: seeds the random connectivity (``fixed_probability`` without its own seed) and the
            random initial potentials, so the same network and seed give the same spike trains.
    """

    def __init__(self, dt: float = 1e-4, seed: int = 0) -> None:
        self.dt = check_positive("dt", dt)
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = seed
        self.populations: dict[str, Population | SpikeSource] = {}
        self.projections: list[Projection] = []
        self._version = 0
        self._compiled: dict[Any, Any] = {}

    # ----------------------------------------------------------------- construction
    def _new_name(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"population name must be a non-empty string, got {name!r}")
        if name in self.populations:
            raise ValueError(f"duplicate population name {name!r}: names must be unique")
        self._version += 1

    def add_population(self, name: str, size: int, params: CubaLIFParams | None = None, *,
                       v_init: Any = None, **param_kwargs: Any) -> Population:
        """Add ``size`` CUBA LIF neurons; parameters from ``params`` or keyword fields of
        :class:`~neuroplastic.neurons.cuba_lif.CubaLIFParams`."""
        if params is not None and param_kwargs:
            raise ValueError("pass either params or parameter keywords, not both")
        params = params if params is not None else CubaLIFParams(**param_kwargs)
        if not isinstance(params, CubaLIFParams):
            raise TypeError(f"params must be CubaLIFParams, got {type(params).__name__}")
        params.constants(self.dt)  # t_ref must be a whole number of steps
        size = check_size(size)
        if isinstance(v_init, torch.Tensor) and tuple(v_init.shape) != (size,):
            raise ValueError(f"v_init tensor has shape {tuple(v_init.shape)}, expected ({size},)")
        if isinstance(v_init, tuple) and (len(v_init) != 2 or not v_init[0] <= v_init[1]):
            raise ValueError(f"v_init as a range must be (low, high) with low <= high, got {v_init!r}")
        self._new_name(name)
        pop = Population(name, size, params, v_init)
        self.populations[name] = pop
        return pop

    def add_source(self, name: str, size: int, indices: Sequence[int] | torch.Tensor, *,
                   steps: Sequence[int] | torch.Tensor | None = None,
                   times: Sequence[float] | torch.Tensor | None = None) -> SpikeSource:
        """Add ``size`` input neurons; ``indices[k]`` spikes at ``steps[k]`` (or ``times[k]`` seconds)."""
        size = check_size(size)
        if (steps is None) == (times is None):
            raise ValueError("pass exactly one of steps or times")
        idx = torch.as_tensor(indices, dtype=torch.int64).reshape(-1)
        if steps is None:
            st = torch.tensor([to_steps("spike time", float(t), self.dt) for t in torch.as_tensor(times).reshape(-1)],
                              dtype=torch.int64)
        else:
            st = torch.as_tensor(steps, dtype=torch.int64).reshape(-1)
        if idx.shape != st.shape:
            raise ValueError(f"indices ({idx.numel()}) and spike steps ({st.numel()}) differ in length")
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= size):
            raise ValueError(f"source indices must be in [0, {size})")
        if st.numel() and int(st.min()) < 0:
            raise ValueError("spike steps must be >= 0")
        key = st * size + idx
        order = torch.argsort(key)
        if key.numel() and bool((key[order].diff() == 0).any()):
            raise ValueError("a source neuron is listed twice at the same step: remove duplicates")
        self._new_name(name)
        src = SpikeSource(name, size, idx[order], st[order])
        self.populations[name] = src
        return src

    def connect(self, pre: str, post: str, connectivity: Connector | torch.Tensor, *,
                weight: float | torch.Tensor | None = None, receptor: str = "exc",
                delay: float | None = None, delay_steps: int | None = None, name: str | None = None,
                plasticity: Rule | str | None = None, wmin: float | None = None,
                wmax: float | None = None) -> Projection:
        """Add a projection ``pre -> post``.

        Args:
            pre, post: population names (``post`` must be a LIF population).
            connectivity: a connector (:func:`fixed_probability`, :func:`one_to_one`,
                :func:`all_to_all`, :func:`from_list`), a dense ``[n_pre, n_post]`` weight matrix
                (zeros are absent synapses) or a sparse (CSR/COO) one.
            weight: the weight of every synapse (float) or one per synapse (1-D tensor), for
                connectors that carry no weights; must be None for matrices and ``(i, j, w)`` lists.
            receptor: ``"exc"`` or ``"inh"`` (which current and time constant; the sign is the weight's).
            delay: transmission delay in seconds (a multiple of ``dt``), or
            delay_steps: the same in steps (default 0: felt by ``v`` from the next step on).
            name: projection name (default ``"pre->post"``, numbered if repeated).
            plasticity: a spike-triggered rule (:class:`~neuroplastic.plasticity.STDP`,
                :class:`~neuroplastic.plasticity.TripletSTDP`, with ``dt`` equal to the network's)
                or its registered name (``"stdp"``, built with ``dt=net.dt``); the weights then
                learn during :meth:`run` (event-driven: only synapses of neurons that spiked change)
                and live in the run state (:meth:`weights`). Needs unique ``(i, j)`` pairs.
            wmin, wmax: hard bounds of a plastic projection's weights (default: none); the
                initial weights must lie within them.
        """
        for role, pop_name in (("pre", pre), ("post", post)):
            if pop_name not in self.populations:
                raise KeyError(f"unknown {role} population {pop_name!r}: add it first (known: {sorted(self.populations)})")
        if isinstance(self.populations[post], SpikeSource):
            raise ValueError(f"post population {post!r} is a spike source: project onto a LIF population")
        check_in_choices("receptor", receptor, RECEPTORS)
        if delay is not None and delay_steps is not None:
            raise ValueError("pass delay (seconds) or delay_steps, not both")
        if delay_steps is not None:
            if not isinstance(delay_steps, int) or delay_steps < 0:
                raise ValueError(f"delay_steps must be a non-negative integer, got {delay_steps!r}")
            d = delay_steps
        else:
            d = 0 if delay is None else to_steps("delay", delay, self.dt)
        n_pre, n_post = self.populations[pre].size, self.populations[post].size
        rows, cols, w = self._synapses(connectivity, weight, n_pre, n_post, pre == post)
        if not bool(torch.isfinite(w).all()):
            raise ValueError("weights contain NaN/inf: pass finite weights")
        if name is None:
            name = f"{pre}->{post}"
            taken = {p.name for p in self.projections}
            k = 1
            while name in taken:
                k += 1
                name = f"{pre}->{post}#{k}"
        elif any(p.name == name for p in self.projections):
            raise ValueError(f"duplicate projection name {name!r}: names must be unique")
        rule, lo, hi = self._plasticity(plasticity, wmin, wmax, rows, cols, w, n_post)
        proj = Projection(name, pre, post, csr_from(rows, cols, n_pre), cols.contiguous(), w.contiguous(), receptor, d,
                          rule, lo, hi)
        self.projections.append(proj)
        self._version += 1
        return proj

    def _plasticity(self, rule: Any, wmin: float | None, wmax: float | None, rows: torch.Tensor, cols: torch.Tensor,
                    w: torch.Tensor, n_post: int) -> tuple[Any, float, float]:
        lo = -math.inf if wmin is None else float(wmin)
        hi = math.inf if wmax is None else float(wmax)
        if rule is None:
            if wmin is not None or wmax is not None:
                raise ValueError("wmin/wmax bound a plastic projection's weights: pass plasticity= too, or drop them")
            return None, lo, hi
        check_bounds(lo, hi)
        if isinstance(rule, str):
            rule = get_rule(rule, dt=self.dt)
        if not isinstance(rule, Rule) or not callable(getattr(rule, "_terms", None)):
            raise TypeError(f"plasticity must be a spike-triggered rule (STDP, TripletSTDP) or its name, got "
                            f"{type(rule).__name__}")
        if abs(rule.dt - self.dt) > 1e-9 * self.dt:
            raise ValueError(f"{type(rule).__name__} dt = {rule.dt!r} s but the network steps dt = {self.dt!r} s: "
                             f"pass {type(rule).__name__}(..., dt={self.dt!r})")
        if rule.reduction == "none":
            raise ValueError("a projection applies one update per step: use the rule's reduction='mean' or 'sum'")
        key = rows * n_post + cols
        if key.numel() and int(torch.unique(key).numel()) != int(key.numel()):
            raise ValueError("a plastic projection needs unique (pre, post) pairs: merge the parallel synapses "
                             "(or use two projections)")
        if w.numel() and (float(w.min()) < lo or float(w.max()) > hi):
            raise ValueError(f"initial weights span [{float(w.min())!r}, {float(w.max())!r}] outside "
                             f"[wmin, wmax] = [{lo!r}, {hi!r}]: widen the bounds or clip the weights")
        return rule, lo, hi

    def _synapses(self, conn: Any, weight: Any, n_pre: int, n_post: int, same: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if isinstance(conn, torch.Tensor):
            if weight is not None:
                raise ValueError("the weight matrix already holds the weights: leave weight=None")
            if tuple(conn.shape) != (n_pre, n_post):
                raise ValueError(f"weight matrix shape {tuple(conn.shape)} != (n_pre, n_post) = ({n_pre}, {n_post}): "
                                 "transpose or fix the sizes")
            if conn.layout in (torch.sparse_csr, torch.sparse_coo, torch.sparse_csc):
                coo = conn.to_sparse_coo().coalesce()
                (rows, cols), w = coo.indices(), coo.values().to(torch.float64)
            elif conn.layout == torch.strided:
                rows, cols = torch.nonzero(conn, as_tuple=True)
                w = conn[rows, cols].to(torch.float64)
            else:
                raise TypeError(f"unsupported matrix layout {conn.layout}")
            return rows, cols, w
        if not isinstance(conn, Connector):
            raise TypeError(f"connectivity must be a connector (fixed_probability, one_to_one, all_to_all, from_list) "
                            f"or a weight matrix, got {type(conn).__name__}")
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + len(self.projections) + 1)
        rows, cols, w = conn.build(n_pre, n_post, same, g)
        if conn.has_weights:
            if weight is not None:
                raise ValueError("from_list rows (i, j, w) already hold the weights: leave weight=None")
            return rows, cols, w
        if weight is None:
            raise ValueError("pass weight= (a number, or one value per synapse)")
        if isinstance(weight, torch.Tensor) and weight.ndim > 0:
            if tuple(weight.shape) != (rows.numel(),):
                raise ValueError(f"weight shape {tuple(weight.shape)} != ({rows.numel()},), one per synapse drawn: "
                                 "pass a float or a tensor of that length")
            return rows, cols, weight.detach().to(torch.float64).clone()
        return rows, cols, torch.full((rows.numel(),), float(weight), dtype=torch.float64)

    # ----------------------------------------------------------------- queries
    @property
    def n_neurons(self) -> int:
        return sum(p.size for p in self.populations.values())

    @property
    def n_synapses(self) -> int:
        return sum(p.n_synapses for p in self.projections)

    def offsets(self) -> dict[str, tuple[int, int]]:
        """Global index range ``(start, stop)`` of each population (populations in insertion order)."""
        out, start = {}, 0
        for name, pop in self.populations.items():
            out[name] = (start, start + pop.size)
            start += pop.size
        return out

    # ----------------------------------------------------------------- running
    def init_state(self, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> GraphState:
        """Initial :class:`~neuroplastic.network._types.GraphState` (``v_init``, zero currents, step 0)."""
        return init_state(compile_network(self, dtype, device))

    def run(self, duration: float | None = None, *, steps: int | None = None, state: GraphState | None = None,
            monitors: Sequence[Any] = (), mode: str = "event", backend: str | None = None,
            dtype: torch.dtype | None = None, device: torch.device | str = "cpu",
            stats: dict | None = None) -> GraphState:
        """Simulate ``duration`` seconds (or ``steps``); see :func:`neuroplastic.network.event.run_network`."""
        return run_network(self, duration, steps=steps, state=state, monitors=monitors, mode=mode,
                           backend=backend, dtype=dtype, device=device, stats=stats)

    def projection(self, name: str) -> Projection:
        """The projection called ``name``."""
        for p in self.projections:
            if p.name == name:
                return p
        raise KeyError(f"no projection {name!r}: known are {[p.name for p in self.projections]}")

    def weights(self, name: str, state: GraphState | None = None) -> torch.Tensor:
        """Weights of projection ``name`` in its CSR order ``[n_synapses]``.

        For a plastic projection and a ``state`` from :meth:`run`, the learned weights (in the
        state's dtype); otherwise the projection's initial weights (float64).
        """
        proj = self.projection(name)
        if state is None or proj.plasticity is None:
            return proj.weights
        if state.weight is None:
            raise ValueError("this state has no plastic weights: pass the state returned by run()")
        cn = compile_network(self, state.weight.dtype, state.weight.device)
        link = next(link for link in cn.plastic if link.name == name)
        return state.weight[link.gpos]

    def __repr__(self) -> str:
        return f"Network(dt={self.dt}, populations={len(self.populations)}, neurons={self.n_neurons}, synapses={self.n_synapses})"


def cuba_network(n_neurons: int = 4000, *, connection_probability: float | None = 0.02, fan_out: int | None = None,
                 exc_fraction: float = 0.8, we: float = 60 * 0.27 / 10 * 1e-3, wi: float = -20 * 4.5 / 10 * 1e-3,
                 i_bias: float = 0.0, dt: float = 1e-4, seed: int = 0, allow_self: bool = True) -> Network:
    """The CUBA benchmark network (Vogels & Abbott 2005; Brian2 ``examples/CUBA.py``) as populations E and I.

    Brian2 connects ``i < 3200`` (``i >= 3200``) of one group to all 4,000 neurons with ``p = 0.02``
    on ``ge`` (``gi``); here E (the first 80 %) and I project to both populations with the same
    probability, which is the same random graph. ``fan_out`` (synapses per neuron) overrides the
    probability with ``fan_out / n_neurons`` to scale the network at fixed fan-out. Initial
    ``v`` is uniform in ``[v_reset, v_th]``.
    """
    if fan_out is not None:
        connection_probability = fan_out / n_neurons
    n_exc = int(round(exc_fraction * n_neurons))
    params = CubaLIFParams(i_bias=i_bias)
    net = Network(dt=dt, seed=seed)
    v0 = (params.v_reset, params.v_th)
    net.add_population("E", n_exc, params, v_init=v0)
    net.add_population("I", n_neurons - n_exc, params, v_init=v0)
    for pre, w, rec in (("E", we, "exc"), ("I", wi, "inh")):
        for post in ("E", "I"):
            net.connect(pre, post, fixed_probability(connection_probability, allow_self=allow_self), weight=w, receptor=rec)
    return net
