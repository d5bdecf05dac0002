"""Monitors for :meth:`Network.run <neuroplastic.network.graph.Network.run>`: compact spike and state records.

A monitor is a recorder owned by the caller: pass it in ``monitors=[...]`` and it accumulates
across consecutive runs (``reset()`` forgets). Spikes are kept as (neuron index, step) pairs,
never as a dense ``[T, N]`` raster; states only for the chosen neurons at the chosen steps.
Step ``s`` is the ``s``-th step of the simulation (0-based); its record holds the state after
the step, at time ``(s + 1) * dt``, and a spike in step ``s`` is reported at time ``(s + 1) * dt``
(the end of the step in which the threshold was crossed).
"""
from __future__ import annotations

from typing import Any, Sequence

import torch

VARIABLES = ("v", "i_exc", "i_inh")


class _Monitor:
    def __init__(self, population: str | None) -> None:
        self.population = population
        self.dt: float | None = None
        self.start = 0
        self.size = 0
        self._bound_to: Any = None

    def bind(self, net: Any, cn: Any) -> None:
        """Attach to a network (called by ``run``); the population must exist and keep its size."""
        offsets = net.offsets()
        if self.population is None:
            start, stop = 0, net.n_neurons
        elif self.population not in offsets:
            raise KeyError(f"monitor population {self.population!r} is not in the network (known: {sorted(offsets)})")
        else:
            start, stop = offsets[self.population]
        if self._bound_to is not None and (self._bound_to is not net or (start, stop - start) != (self.start, self.size)):
            raise ValueError("this monitor already holds records of another network: call reset() or use a new monitor")
        self._bound_to, self.dt, self.start, self.size = net, net.dt, start, stop - start

    def reset(self) -> "_Monitor":
        """Forget everything recorded (and the network bound). Returns self."""
        self._bound_to = None
        return self


class SpikeMonitor(_Monitor):
    """Record the spikes of one population (or of all neurons, ``population=None``).

    Attributes after a run: ``indices`` (neuron index within the population), ``steps``,
    ``times`` (seconds), ``count``, ``duration`` (seconds recorded).
    """

    def __init__(self, population: str | None = None) -> None:
        super().__init__(population)
        self.reset()

    def reset(self) -> "SpikeMonitor":
        super().reset()
        self._idx: list[torch.Tensor] = []
        self._steps: list[torch.Tensor] = []
        self.n_steps = 0
        return self

    def plan(self, step0: int, n_steps: int) -> None:
        return None

    def collect(self, out: Any, step0: int, n_steps: int, rec_mask: torch.Tensor, cols: slice) -> None:
        keep = (out.spike_idx >= self.start) & (out.spike_idx < self.start + self.size)
        self._idx.append((out.spike_idx[keep] - self.start).cpu())
        self._steps.append(out.spike_step[keep].cpu())
        self.n_steps += n_steps

    @property
    def indices(self) -> torch.Tensor:
        return torch.cat(self._idx) if self._idx else torch.zeros(0, dtype=torch.int64)

    @property
    def steps(self) -> torch.Tensor:
        return torch.cat(self._steps) if self._steps else torch.zeros(0, dtype=torch.int64)

    @property
    def times(self) -> torch.Tensor:
        """Spike times in seconds, ``(step + 1) * dt`` (float64)."""
        return (self.steps.to(torch.float64) + 1.0) * (self.dt or 0.0)

    @property
    def count(self) -> int:
        return sum(int(i.numel()) for i in self._idx)

    @property
    def duration(self) -> float:
        return self.n_steps * (self.dt or 0.0)

    def counts(self) -> torch.Tensor:
        """Spike count of every neuron ``[size]``."""
        return torch.bincount(self.indices, minlength=self.size)

    def rate(self, per_neuron: bool = False) -> float | torch.Tensor:
        """Mean firing rate in Hz over the recorded time (per neuron: a ``[size]`` tensor)."""
        if self.n_steps == 0:
            raise RuntimeError("nothing recorded yet: pass this monitor to Network.run(monitors=[...])")
        if per_neuron:
            return self.counts().to(torch.float64) / self.duration
        return self.count / (self.size * self.duration)

    def spike_trains(self) -> dict[int, torch.Tensor]:
        """Spike times (seconds) of each neuron that fired."""
        idx, t = self.indices, self.times
        order = torch.argsort(idx, stable=True)
        idx, t = idx[order], t[order]
        uniq, cnt = torch.unique_consecutive(idx, return_counts=True)
        return {int(i): ts for i, ts in zip(uniq, torch.split(t, cnt.tolist()))}

    def raster(self, ax: Any = None, *, max_neurons: int | None = None, **kwargs: Any) -> Any:
        """Plot a raster (time in ms vs neuron index) on ``ax`` (a new Agg figure if None); returns the axes."""
        if ax is None:
            from matplotlib.figure import Figure  # no pyplot: works headless (Agg canvas)

            ax = Figure(figsize=(8, 4)).add_subplot()
        idx, t = self.indices, self.times * 1e3
        if max_neurons is not None:
            keep = idx < max_neurons
            idx, t = idx[keep], t[keep]
        style = {"marker": "|", "linestyle": "none", "color": "k", "markersize": 2}
        style.update(kwargs)
        ax.plot(t.numpy(), idx.numpy(), **style)
        ax.set_xlabel("time (ms)")
        ax.set_ylabel(f"neuron ({self.population or 'all'})")
        return ax


class StateMonitor(_Monitor):
    """Record state variables of chosen neurons at chosen steps.

    Args:
        population: population name (``None``: global indices over the whole network).
        variables: any of ``"v"``, ``"i_exc"``, ``"i_inh"``.
        neurons: indices within the population (default: all of them).
        every: record steps ``s`` with ``s % every == 0`` ...
        steps: ... or exactly these absolute steps (then ``every`` is ignored).

    After a run, ``values[var]`` is ``[n_recorded, len(neurons)]``, ``steps`` and ``times``
    (``(step + 1) * dt``) the recorded steps.
    """

    def __init__(self, population: str | None, variables: str | Sequence[str] = ("v",), *,
                 neurons: Sequence[int] | torch.Tensor | None = None, every: int = 1,
                 steps: Sequence[int] | torch.Tensor | None = None) -> None:
        super().__init__(population)
        variables = (variables,) if isinstance(variables, str) else tuple(variables)
        bad = [v for v in variables if v not in VARIABLES]
        if bad or not variables:
            raise ValueError(f"unknown state variable(s) {bad}: choose from {VARIABLES}")
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        self.variables = variables
        self.neurons = None if neurons is None else torch.as_tensor(neurons, dtype=torch.int64).reshape(-1)
        self.every = every
        self.at = None if steps is None else torch.as_tensor(steps, dtype=torch.int64).reshape(-1)
        self.reset()

    def reset(self) -> "StateMonitor":
        super().reset()
        self._vals: list[torch.Tensor] = []
        self._steps: list[torch.Tensor] = []
        return self

    def bind(self, net: Any, cn: Any) -> None:
        super().bind(net, cn)
        if self.neurons is not None and self.neurons.numel() and (int(self.neurons.min()) < 0 or int(self.neurons.max()) >= self.size):
            raise ValueError(f"StateMonitor neurons must be in [0, {self.size}) for population {self.population!r}")

    def _local(self) -> torch.Tensor:
        return torch.arange(self.size) if self.neurons is None else self.neurons

    def plan(self, step0: int, n_steps: int) -> tuple[torch.Tensor, torch.Tensor]:
        s = torch.arange(step0, step0 + n_steps)
        mask = (s % self.every == 0) if self.at is None else torch.isin(s, self.at)
        return self._local() + self.start, mask

    def collect(self, out: Any, step0: int, n_steps: int, rec_mask: torch.Tensor, cols: slice) -> None:
        s = torch.arange(step0, step0 + n_steps)
        mine = self.plan(step0, n_steps)[1]
        rows = mine[rec_mask]  # which of the recorded steps are this monitor's
        self._vals.append(out.record[rows][:, :, cols].cpu())
        self._steps.append(s[mine])

    @property
    def steps(self) -> torch.Tensor:
        return torch.cat(self._steps) if self._steps else torch.zeros(0, dtype=torch.int64)

    @property
    def times(self) -> torch.Tensor:
        return (self.steps.to(torch.float64) + 1.0) * (self.dt or 0.0)

    @property
    def values(self) -> dict[str, torch.Tensor]:
        """``{variable: [n_recorded_steps, n_neurons]}``."""
        if not self._vals:
            return {v: torch.zeros(0, self._local().numel()) for v in self.variables}
        rec = torch.cat(self._vals)
        return {v: rec[:, VARIABLES.index(v)] for v in self.variables}

    def __getitem__(self, variable: str) -> torch.Tensor:
        if variable not in self.variables:
            raise KeyError(f"{variable!r} was not recorded: recorded are {self.variables}")
        return self.values[variable]
