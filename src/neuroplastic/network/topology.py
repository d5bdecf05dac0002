"""The pieces of a graph network G = (V, E): populations of CUBA LIF neurons and spike sources
(vertex sets), connectors that draw synapses, and projections (edge sets stored as CSR).

:class:`~neuroplastic.network.graph.Network` assembles them; the neuron model is
:class:`~neuroplastic.neurons.cuba_lif.CubaLIFParams` from the library's neurons.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import torch

from neuroplastic.neurons.cuba_lif import CubaLIFParams, synaptic_propagator, to_steps

RECEPTORS = ("exc", "inh")
__all__ = [
    "RECEPTORS", "AllToAll", "Connector", "FixedProbability", "FromList", "OneToOne", "Population", "Projection",
    "SpikeSource", "all_to_all", "check_size", "csr_from", "fixed_probability", "from_list", "one_to_one",
    "synaptic_propagator", "to_steps",
]


@dataclass(frozen=True)
class Population:
    """A named group of current-based LIF neurons (a vertex set of the graph).

    ``v_init`` is the initial membrane potential: a number, a ``(low, high)`` pair drawn uniformly
    per neuron from the network seed, or a tensor of shape ``[size]``; ``None`` means ``v_rest``.
    """

    name: str
    size: int
    params: CubaLIFParams
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

    ``plasticity`` is a spike-triggered rule (:class:`~neuroplastic.plasticity.STDP`,
    :class:`~neuroplastic.plasticity.TripletSTDP`) or None; a plastic projection's weights live in
    the run state (:attr:`GraphState.weight <neuroplastic.network._types.GraphState>`), kept in
    ``[wmin, wmax]`` after every update, and ``weights`` stays the initial value.
    """

    name: str
    pre: str
    post: str
    indptr: torch.Tensor
    indices: torch.Tensor
    weights: torch.Tensor
    receptor: str
    delay_steps: int
    plasticity: Any = None
    wmin: float = -math.inf
    wmax: float = math.inf

    @property
    def n_synapses(self) -> int:
        return int(self.indices.numel())

    def to_dense(self, n_pre: int, n_post: int) -> torch.Tensor:
        """Dense ``[n_pre, n_post]`` float64 weight matrix (parallel synapses summed)."""
        rows = torch.repeat_interleave(torch.arange(n_pre), self.indptr.diff())
        w = torch.zeros(n_pre * n_post, dtype=torch.float64)
        w.index_add_(0, rows * n_post + self.indices, self.weights)
        return w.view(n_pre, n_post)


def csr_from(rows: torch.Tensor, cols: torch.Tensor, n_pre: int) -> torch.Tensor:
    """Row pointer ``[n_pre + 1]`` of synapses sorted by row."""
    counts = torch.bincount(rows, minlength=n_pre)
    return torch.cat([torch.zeros(1, dtype=torch.int64), torch.cumsum(counts, 0)])


def check_size(size: Any) -> int:
    """Return ``size`` if it is a positive integer, else raise naming the problem."""
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise ValueError(f"population size must be a positive integer, got {size!r}")
    return size
