r"""Graph-structured spiking networks: named populations (V) joined by projections (E).

Neurons are leaky integrate-and-fire units with current-based exponential synapses (currents in
voltage units, the membrane resistance absorbed, as in Brian2's CUBA example):

.. math::
    \tau_m \dot v = -(v - v_{rest}) + I_{exc} + I_{inh} + I_{bias},\qquad
    \tau_{exc} \dot I_{exc} = -I_{exc},\qquad \tau_{inh} \dot I_{inh} = -I_{inh}.

Over one step the linear system is integrated exactly (see :func:`synaptic_propagator`); a spike
``v > v_th`` resets ``v`` to ``v_reset`` and freezes it for ``t_ref``, while the synaptic currents
keep decaying and integrating input. A presynaptic spike adds the synapse weight ``w`` to the
postsynaptic ``I_exc`` or ``I_inh`` (the projection's ``receptor``) ``delay`` steps later.

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
from dataclasses import dataclass
from typing import Any, Sequence

import torch

from neuroplastic._core.checks import check_in_choices, check_positive

RECEPTORS = ("exc", "inh")


def synaptic_propagator(tau_mem: float, tau_syn: float, dt: float) -> tuple[float, float, float]:
    r"""Exact one-step propagator ``(a, b, c)`` of :math:`\tau_m\dot u = -u + I`, :math:`\tau_s\dot I = -I`.

    With :math:`u = v - v_\infty` the solution over ``dt`` is the 2x2 upper-triangular map
    :math:`u' = a\,u + b\,I`, :math:`I' = c\,I` with :math:`a = e^{-dt/\tau_m}`,
    :math:`c = e^{-dt/\tau_s}` and

    .. math::
        b = \frac{\tau_s}{\tau_s - \tau_m}\,(c - a)
          = a\,\frac{dt}{\tau_m}\,\frac{\mathrm{expm1}(x)}{x},\quad
          x = dt\,\Bigl(\frac{1}{\tau_m} - \frac{1}{\tau_s}\Bigr),

    whose second form is accurate for any ``tau_mem``, ``tau_syn``; at ``tau_mem == tau_syn``
    (``x = 0``) it is the limit :math:`b = (dt/\tau_m)\,e^{-dt/\tau_m}`.

    Example:
        >>> a, b, c = synaptic_propagator(20e-3, 20e-3, 1e-3)
        >>> round(b, 12) == round(0.05 * math.exp(-0.05), 12)
        True
    """
    check_positive("tau_mem", tau_mem)
    check_positive("tau_syn", tau_syn)
    check_positive("dt", dt)
    a, c = math.exp(-dt / tau_mem), math.exp(-dt / tau_syn)
    x = dt * (1.0 / tau_mem - 1.0 / tau_syn)
    phi = math.expm1(x) / x if x != 0.0 else 1.0
    return a, a * (dt / tau_mem) * phi, c


def to_steps(name: str, seconds: float, dt: float) -> int:
    """Convert a duration in seconds to a whole number of steps (error unless it is one)."""
    check_positive(name, seconds, allow_zero=True)
    steps = seconds / dt
    n = round(steps)
    if abs(steps - n) > 1e-6 * max(1.0, steps):
        raise ValueError(
            f"{name} = {seconds!r} s is {steps:.6g} steps of dt = {dt!r} s, not a whole number: "
            f"pick a multiple of dt (e.g. {n * dt!r} s)"
        )
    return int(n)


@dataclass(frozen=True)
class CurrentLIFParams:
    """Parameters of the current-based LIF population (SI units: seconds and volts).

    Defaults are those of the CUBA benchmark (Vogels & Abbott 2005, Brian2's ``examples/CUBA.py``).

    Attributes:
        tau_mem: membrane time constant (s, > 0).
        tau_syn_exc: decay time constant of the excitatory current (s, > 0).
        tau_syn_inh: decay time constant of the inhibitory current (s, > 0).
        v_th: threshold; a spike is emitted when ``v > v_th``.
        v_reset: potential after a spike (below ``v_th``).
        v_rest: resting (leak) potential.
        t_ref: absolute refractory period (s, >= 0, a whole number ``n_ref`` of steps): after a
            spike in step ``k``, ``v`` stays at ``v_reset`` until integration resumes in step
            ``k + n_ref`` (Brian2's ``timestep(t - lastspike) >= timestep(t_ref)``).
        i_bias: constant input current in voltage units (shifts the steady state to
            ``v_rest + i_bias``).
    """

    tau_mem: float = 20e-3
    tau_syn_exc: float = 5e-3
    tau_syn_inh: float = 10e-3
    v_th: float = -50e-3
    v_reset: float = -60e-3
    v_rest: float = -49e-3
    t_ref: float = 5e-3
    i_bias: float = 0.0

    def __post_init__(self) -> None:
        for name in ("tau_mem", "tau_syn_exc", "tau_syn_inh"):
            check_positive(name, getattr(self, name))
        check_positive("t_ref", self.t_ref, allow_zero=True)
        for name in ("v_th", "v_reset", "v_rest", "i_bias"):
            if not math.isfinite(float(getattr(self, name))):
                raise ValueError(f"{name} must be finite, got {getattr(self, name)!r}")
        if self.v_reset >= self.v_th:
            raise ValueError(f"v_reset ({self.v_reset}) must be below v_th ({self.v_th}): lower v_reset")

    def constants(self, dt: float) -> dict[str, float]:
        """Per-step constants: propagators ``a, b_exc, b_inh, c_exc, c_inh``, ``v_inf``, ``n_ref``."""
        a, b_exc, c_exc = synaptic_propagator(self.tau_mem, self.tau_syn_exc, dt)
        _, b_inh, c_inh = synaptic_propagator(self.tau_mem, self.tau_syn_inh, dt)
        return {
            "a": a, "b_exc": b_exc, "b_inh": b_inh, "c_exc": c_exc, "c_inh": c_inh,
            "v_inf": self.v_rest + self.i_bias, "v_th": float(self.v_th), "v_reset": float(self.v_reset),
            "n_ref": to_steps("t_ref", self.t_ref, dt),
        }


@dataclass(frozen=True)
class Population:
    """A named group of current-based LIF neurons (a vertex set of the graph).

    ``v_init`` is the initial membrane potential: a number, a ``(low, high)`` pair drawn uniformly
    per neuron from the network seed, or a tensor of shape ``[size]``; ``None`` means ``v_rest``.
    """

    name: str
    size: int
    params: CurrentLIFParams
    v_init: Any = None


@dataclass(frozen=True)
class SpikeSource:
    """A named group of neurons that spike at given steps (input, like Brian2's SpikeGeneratorGroup).

    ``indices[k]`` fires at step ``steps[k]``; pairs are unique and sorted by (step, index).
    """

    name: str
    size: int
    indices: torch.Tensor
    steps: torch.Tensor


class Connector:
    """How to draw the synapses of a projection; subclasses implement :meth:`build`."""

    has_weights = False

    def build(self, n_pre: int, n_post: int, same: bool, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Return ``(rows, cols, weights or None)``, sorted by row then column."""
        raise NotImplementedError


class FixedProbability(Connector):
    """Each (pre, post) pair is connected independently with probability ``p`` (Bernoulli)."""

    def __init__(self, p: float, seed: int | None = None, allow_self: bool = True) -> None:
        if not isinstance(p, (int, float)) or not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"connection probability must be in [0, 1], got {p!r}")
        self.p, self.seed, self.allow_self = float(p), seed, allow_self

    def build(self, n_pre: int, n_post: int, same: bool, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, None]:
        if self.seed is not None:
            g = torch.Generator().manual_seed(int(self.seed))
        total = n_pre * n_post
        if self.p == 0.0 or total == 0:
            pos = torch.zeros(0, dtype=torch.int64)
        elif self.p == 1.0:
            pos = torch.arange(total)
        else:
            # Bernoulli process over the flattened pairs: gaps between successes are geometric,
            # so O(#synapses) work instead of O(n_pre * n_post) coin flips.
            log_q = math.log1p(-self.p)
            chunks, last = [], -1
            while True:
                m = int(max(1024, (total - last) * self.p * 1.05 + 6 * math.sqrt(total * self.p)))
                u = torch.rand(m, generator=g, dtype=torch.float64)
                gaps = torch.floor(torch.log1p(-u) / log_q).to(torch.int64) + 1
                pos = last + torch.cumsum(gaps, 0)
                chunks.append(pos[pos < total])
                if pos[-1] >= total:
                    break
                last = int(pos[-1])
            pos = torch.cat(chunks)
        rows, cols = pos // n_post, pos % n_post
        if same and not self.allow_self:
            keep = rows != cols
            rows, cols = rows[keep], cols[keep]
        return rows, cols, None


class OneToOne(Connector):
    """Neuron ``i`` of the source connects to neuron ``i`` of the target (equal sizes)."""

    def build(self, n_pre: int, n_post: int, same: bool, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, None]:
        if n_pre != n_post:
            raise ValueError(f"one_to_one needs equal sizes, got {n_pre} -> {n_post}: use all_to_all or from_list")
        idx = torch.arange(n_pre)
        return idx, idx.clone(), None


class AllToAll(Connector):
    """Every source neuron connects to every target neuron (``allow_self=False`` drops i -> i)."""

    def __init__(self, allow_self: bool = True) -> None:
        self.allow_self = allow_self

    def build(self, n_pre: int, n_post: int, same: bool, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, None]:
        return FixedProbability(1.0, allow_self=self.allow_self).build(n_pre, n_post, same, g)


class FromList(Connector):
    """Explicit synapses ``(i, j)`` or ``(i, j, w)`` (several synapses per pair are allowed)."""

    def __init__(self, synapses: Sequence[Sequence[float]] | torch.Tensor) -> None:
        t = torch.as_tensor(synapses, dtype=torch.float64)
        if t.numel() == 0:
            t = t.reshape(0, 2)
        if t.ndim != 2 or t.shape[1] not in (2, 3):
            raise ValueError(f"from_list expects rows (i, j) or (i, j, w), got shape {tuple(t.shape)}")
        ij = t[:, :2]
        if not torch.equal(ij, ij.round()):
            raise ValueError("from_list indices i, j must be integers")
        self.rows, self.cols = ij[:, 0].to(torch.int64), ij[:, 1].to(torch.int64)
        self.weights = t[:, 2].clone() if t.shape[1] == 3 else None
        self.has_weights = self.weights is not None

    def build(self, n_pre: int, n_post: int, same: bool, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        for name, idx, n in (("i", self.rows, n_pre), ("j", self.cols, n_post)):
            if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= n):
                raise ValueError(f"from_list index {name} out of range [0, {n}): got {int(idx.min())}..{int(idx.max())}")
        order = torch.argsort(self.rows * max(n_post, 1) + self.cols, stable=True)
        w = None if self.weights is None else self.weights[order]
        return self.rows[order], self.cols[order], w


def fixed_probability(p: float, seed: int | None = None, *, allow_self: bool = True) -> FixedProbability:
    """Random connectivity with probability ``p`` per pair; ``seed=None`` derives one from the network seed."""
    return FixedProbability(p, seed, allow_self)


def one_to_one() -> OneToOne:
    """Connect neuron ``i`` to neuron ``i``."""
    return OneToOne()


def all_to_all(*, allow_self: bool = True) -> AllToAll:
    """Connect every pair (``allow_self=False`` skips i -> i when source and target are the same)."""
    return AllToAll(allow_self)


def from_list(synapses: Sequence[Sequence[float]] | torch.Tensor) -> FromList:
    """Explicit synapses as rows ``(i, j)`` (then pass ``weight``) or ``(i, j, w)``."""
    return FromList(synapses)


@dataclass(frozen=True)
class Projection:
    """Synapses from ``pre`` to ``post`` (an edge set), stored as CSR over presynaptic neurons.

    ``indptr[i]:indptr[i+1]`` are the synapses of presynaptic neuron ``i``: targets ``indices``
    and weights ``weights`` (float64 master copy). Input arrives ``delay_steps`` steps after the
    spike on the ``receptor`` current of the target.
    """

    name: str
    pre: str
    post: str
    indptr: torch.Tensor
    indices: torch.Tensor
    weights: torch.Tensor
    receptor: str
    delay_steps: int

    @property
    def n_synapses(self) -> int:
        return int(self.indices.numel())

    def to_dense(self, n_pre: int, n_post: int) -> torch.Tensor:
        """Dense ``[n_pre, n_post]`` float64 weight matrix (parallel synapses summed)."""
        rows = torch.repeat_interleave(torch.arange(n_pre), self.indptr.diff())
        w = torch.zeros(n_pre * n_post, dtype=torch.float64)
        w.index_add_(0, rows * n_post + self.indices, self.weights)
        return w.view(n_pre, n_post)


def _csr_from(rows: torch.Tensor, cols: torch.Tensor, n_pre: int) -> torch.Tensor:
    counts = torch.bincount(rows, minlength=n_pre)
    return torch.cat([torch.zeros(1, dtype=torch.int64), torch.cumsum(counts, 0)])


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

    def add_population(self, name: str, size: int, params: CurrentLIFParams | None = None, *,
                       v_init: Any = None, **param_kwargs: Any) -> Population:
        """Add ``size`` LIF neurons; parameters from ``params`` or keyword fields of :class:`CurrentLIFParams`."""
        if params is not None and param_kwargs:
            raise ValueError("pass either params or parameter keywords, not both")
        params = params if params is not None else CurrentLIFParams(**param_kwargs)
        params.constants(self.dt)  # t_ref must be a whole number of steps
        size = _check_size(size)
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
        size = _check_size(size)
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
                delay: float | None = None, delay_steps: int | None = None, name: str | None = None) -> Projection:
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
        proj = Projection(name, pre, post, _csr_from(rows, cols, n_pre), cols.contiguous(), w.contiguous(), receptor, d)
        self.projections.append(proj)
        self._version += 1
        return proj

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
    def init_state(self, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> Any:
        """Initial :class:`~neuroplastic.network.event.GraphState` (``v_init``, zero currents, step 0)."""
        from neuroplastic.network.event import compile_network, init_state

        return init_state(compile_network(self, dtype, device))

    def run(self, duration: float | None = None, *, steps: int | None = None, state: Any = None,
            monitors: Sequence[Any] = (), mode: str = "event", backend: str | None = None,
            dtype: torch.dtype | None = None, device: torch.device | str = "cpu") -> Any:
        """Simulate ``duration`` seconds (or ``steps``); see :func:`neuroplastic.network.event.run_network`."""
        from neuroplastic.network.event import run_network

        return run_network(self, duration, steps=steps, state=state, monitors=monitors, mode=mode,
                           backend=backend, dtype=dtype, device=device)

    def __repr__(self) -> str:
        return f"Network(dt={self.dt}, populations={len(self.populations)}, neurons={self.n_neurons}, synapses={self.n_synapses})"


def _check_size(size: Any) -> int:
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise ValueError(f"population size must be a positive integer, got {size!r}")
    return size


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
    params = CurrentLIFParams(i_bias=i_bias)
    net = Network(dt=dt, seed=seed)
    v0 = (params.v_reset, params.v_th)
    net.add_population("E", n_exc, params, v_init=v0)
    net.add_population("I", n_neurons - n_exc, params, v_init=v0)
    for pre, w, rec in (("E", we, "exc"), ("I", wi, "inh")):
        for post in ("E", "I"):
            net.connect(pre, post, fixed_probability(connection_probability, allow_self=allow_self), weight=w, receptor=rec)
    return net
