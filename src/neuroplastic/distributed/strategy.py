r"""Training strategies: what ``Model.fit(..., strategy=...)`` does differently across processes.

``fit`` calls a few hooks of its strategy; :class:`Strategy` (``strategy=None``) leaves
everything as in a single process, :class:`DDPStrategy` (``strategy="ddp"``) trains one model
replica per process with :class:`~torch.nn.parallel.DistributedDataParallel`:

* ``setup(model)``: joins the process group (:func:`init_distributed`: gloo on CPU, NCCL on
  CUDA with ``cuda:LOCAL_RANK``), wraps the module in DDP, which first broadcasts rank 0's
  weights (so only rank 0 needs to load a checkpoint to resume);
* ``shard(data)``: every rank draws a disjoint shard of each epoch's permutation
  (:class:`~torch.utils.data.DistributedSampler`, seeded identically on all ranks, epoch
  ``e`` uses seed ``seed + e``, so a resumed run sees the same order) and makes batches of
  ``batch_size`` from it; the global batch is ``world_size * batch_size``;
* in ``backward()`` DDP averages the gradients, so with mean-reduced losses the step equals a
  single-process step on the global batch:
  :math:`g = \frac1R \sum_r \frac1b \sum_{i \in B_r} \nabla\ell_i = \frac{1}{Rb}\sum_{i} \nabla\ell_i`;
* ``callbacks(cbs)``: rank 0 runs all callbacks; other ranks drop the ones that write or print
  (progress bar, checkpoints, CSV, TensorBoard, W&B, or any callback with
  ``rank_zero_only = True``) and keep the rest (early stopping, schedules), which see the same
  reduced logs and so decide the same;
* ``should_stop(model)``: ``stop_training`` is OR-ed over ranks, so a stop requested on one rank
  stops all (no rank is left waiting in a collective): after each batch through the next
  batch's gradient all-reduce (so it takes effect one batch later, see
  :meth:`DDPStrategy.should_stop`), exactly after each epoch;
* ``reduce_epoch``: the epoch loss and metric sums and counts are summed over ranks, so every
  rank logs the exact global means;
* ``finish``: a barrier, so rank 0's files are complete when ``fit`` returns anywhere.

Validation data, ``evaluate`` and ``predict`` are not sharded: each rank computes them on all
the data it is given, with identical weights, so the values agree.
"""
from __future__ import annotations

import datetime
import math
import random
import sys
import threading
import warnings
from typing import Any, Iterator, Sequence

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, IterableDataset, RandomSampler, SequentialSampler

from neuroplastic._core.registry import register_component
from neuroplastic.distributed.process_group import (
    DistributedError,
    _timeout_seconds,
    barrier,
    get_local_rank,
    init_distributed,
    launched_by_torchrun,
    peer_lost_message,
)
from neuroplastic.distributed.watchdog import Watchdog
from neuroplastic.training.history import Callback

__all__ = ["DDPStrategy", "Strategy", "get_strategy", "is_rank_zero_only"]


class Strategy:
    """Single-process training: every hook leaves ``fit`` as it is (the ``strategy=None`` case)."""

    rank = 0
    world_size = 1

    @property
    def is_main(self) -> bool:
        """True on the rank that logs and writes files."""
        return self.rank == 0

    def setup(self, model: Any) -> nn.Module:
        """The module to call for training forwards (``model.module`` itself here)."""
        return model.module

    def shard(self, data: Any, *, seed: int | None = None, initial_epoch: int = 0) -> Any:
        """This rank's view of the training data (all of it here)."""
        return data

    def callbacks(self, callbacks: list[Any]) -> list[Any]:
        """The callbacks this rank runs (all of them here)."""
        return callbacks

    def should_stop(self, model: Any) -> bool:
        """Whether to stop after this batch/epoch (``model.stop_training`` here)."""
        return bool(model.stop_training)

    def reduce_epoch(self, total: float, count: int, metrics: Sequence[Any]) -> tuple[float, int]:
        """Epoch loss sum and sample count over all ranks (this rank's here)."""
        return total, count

    def finish(self, model: Any) -> None:
        """End of ``fit``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def get_strategy(strategy: Any = None) -> Strategy:
    """Resolve ``fit``'s ``strategy`` argument.

    ``None``, ``"none"`` or ``"local"``: this process alone. ``"ddp"``: :class:`DDPStrategy`
    with defaults. ``"auto"``: ``"ddp"`` when launched by torchrun with ``WORLD_SIZE > 1`` or
    inside a process group of more than one rank, else local. A :class:`Strategy` is returned
    as is.
    """
    if strategy is None or isinstance(strategy, Strategy):
        return strategy or Strategy()
    if isinstance(strategy, str):
        key = strategy.strip().lower()
        if key in ("none", "local", "single"):
            return Strategy()
        if key == "ddp":
            return DDPStrategy()
        if key == "auto":
            grouped = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
            return DDPStrategy() if (grouped or launched_by_torchrun()) else Strategy()
    raise ValueError(f"unknown strategy {strategy!r}: pass None, 'ddp', 'auto' or a "
                     "neuroplastic.distributed.DDPStrategy(...)")


def is_rank_zero_only(callback: Any) -> bool:
    """Whether ``callback`` runs on rank 0 only: its ``rank_zero_only`` attribute if set, else
    True for the callbacks that print or write files (progress bar, ``ModelCheckpoint``,
    ``CSVLogger``, ``TensorBoard``, ``WandbCallback``)."""
    flag = getattr(callback, "rank_zero_only", None)
    if flag is not None:
        return bool(flag)
    from neuroplastic.training.callbacks import CSVLogger, ModelCheckpoint, ProgbarLogger, TensorBoard, WandbCallback

    return isinstance(callback, (ProgbarLogger, ModelCheckpoint, CSVLogger, TensorBoard, WandbCallback))


class _EpochSampler(DistributedSampler):
    """A ``DistributedSampler`` that moves to the next epoch each time it is iterated."""

    def __init__(self, n: int, *, num_replicas: int, rank: int, shuffle: bool, seed: int, drop_last: bool,
                 start_epoch: int) -> None:
        super().__init__(range(n), num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed,
                         drop_last=drop_last)
        self.set_epoch(int(start_epoch))

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        self.epoch += 1
        return iter(indices)


class _ShardedArrays:
    """In-memory ``(x, y)`` served as this rank's batches of ``batch_size``."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None, batch_size: int, sampler: _EpochSampler) -> None:
        self.x, self.y, self.batch_size, self.sampler = x, y, batch_size, sampler

    def n_batches(self) -> int:
        return math.ceil(len(self.sampler) / self.batch_size)

    __len__ = n_batches

    def batches(self, shuffle: bool = False, generator: torch.Generator | None = None) -> Iterator[tuple]:
        self.sampler.shuffle = bool(shuffle)  # the order comes from the shared seed, not `generator`
        idx = torch.as_tensor(list(iter(self.sampler)), dtype=torch.long)
        for i in range(0, idx.numel(), self.batch_size):
            j = idx[i:i + self.batch_size]
            yield self.x[j], None if self.y is None else self.y[j]


class _Heartbeat(Callback):
    """Ticks the watchdog from every training, validation and epoch hook."""

    rank_zero_only = False

    def __init__(self, watchdog: Watchdog) -> None:
        super().__init__()
        self.watchdog = watchdog

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.watchdog.tick(f"epoch {epoch} begins")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.watchdog.tick(f"epoch {epoch} ends")

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.watchdog.tick(f"training batch {batch}")

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.watchdog.tick(f"training batch {batch} done")

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.watchdog.tick(f"validation batch {batch}")


def _frame_alive(thread_id: int | None, frame: Any) -> bool:
    f = sys._current_frames().get(thread_id) if thread_id is not None else None
    while f is not None:
        if f is frame:
            return True
        f = f.f_back
    return False


class DDPStrategy(Strategy):
    """Data-parallel training across the processes of a ``torchrun`` launch (or an existing group).

    Args:
        backend: ``"gloo"``, ``"nccl"`` or None (NCCL for CUDA models, gloo for CPU).
        timeout: seconds the rendezvous and each collective may wait for a peer (default 300 or
            env ``NEUROPLASTIC_DIST_TIMEOUT``); a dead or silent peer then raises
            :class:`DistributedError` instead of hanging. Applies when this strategy creates
            the process group.
        watchdog: seconds without any training progress after which the process is
            interrupted and then ended (see :class:`Watchdog`); default ``timeout + 60``;
            ``0`` disables it.
        watchdog_grace: seconds between the watchdog's interrupt and the exit.
        shard: split the training data across ranks (False: each rank's data is already its
            own shard, and every rank must then make the same number of batches).
        drop_last: drop the tail that does not divide evenly over ranks instead of repeating
            samples to fill it (``DistributedSampler`` semantics).
        find_unused_parameters, broadcast_buffers, bucket_cap_mb, static_graph: passed to
            :class:`~torch.nn.parallel.DistributedDataParallel`.

    Example (inside ``torchrun --nproc-per-node=2 train.py``)::

        model.fit(x, y, epochs=10, batch_size=32, strategy=DDPStrategy(timeout=120))
    """

    def __init__(self, *, backend: str | None = None, timeout: float | datetime.timedelta | None = None,
                 watchdog: float | None = None, watchdog_grace: float = 30.0, shard: bool = True,
                 drop_last: bool = False, find_unused_parameters: bool = False, broadcast_buffers: bool = True,
                 bucket_cap_mb: float | None = None, static_graph: bool = False) -> None:
        if backend not in (None, "gloo", "nccl"):
            raise ValueError(f"backend must be 'gloo', 'nccl' or None (chosen by device), got {backend!r}")
        self.backend = backend
        self.timeout = _timeout_seconds(timeout)
        self.watchdog_timeout = self.timeout + 60.0 if watchdog is None else float(watchdog)
        if self.watchdog_timeout < 0:
            raise ValueError(f"watchdog must be >= 0 seconds (0 disables it), got {watchdog!r}")
        self.watchdog_grace = float(watchdog_grace)
        self.shard_data, self.drop_last = bool(shard), bool(drop_last)
        # Only non-defaults reach DDP (torch deprecates some names, e.g. broadcast_buffers in 2.13).
        options = {"find_unused_parameters": (find_unused_parameters, False), "broadcast_buffers": (broadcast_buffers, True),
                   "bucket_cap_mb": (bucket_cap_mb, None), "static_graph": (static_graph, False)}
        self.ddp_options = {k: v for k, (v, default) in options.items() if v != default}
        self.device = torch.device("cpu")
        self._watchdog: Watchdog | None = None
        self._model: Any = None
        self._hook: _HookState | None = None
        self._epoch_phase = False

    # ------------------------------------------------------------------ collectives
    def _comm_device(self) -> torch.device:
        return self.device if dist.get_backend() == "nccl" else torch.device("cpu")

    def _all_reduce(self, values: Sequence[float], op: Any, what: str) -> list[float]:
        t = torch.tensor(list(values), dtype=torch.float64, device=self._comm_device())
        try:
            dist.all_reduce(t, op=op)
        except RuntimeError as e:
            raise DistributedError(peer_lost_message(what, e, self.timeout)) from e
        return t.tolist()

    def _tick(self, what: str) -> None:
        if self._watchdog is not None:
            self._watchdog.tick(what)

    # ------------------------------------------------------------------ hooks
    def setup(self, model: Any) -> nn.Module:
        device = torch.device(model.device)
        if device.type == "cuda":
            device = torch.device("cuda", get_local_rank())
            model.module.to(device)
            model.device = device
        self.device = device
        init_distributed(self.backend, device=device, timeout=self.timeout)
        backend = dist.get_backend()
        if backend == "nccl" and device.type != "cuda":
            raise DistributedError(f"the process group uses NCCL but the model is on {device}: build the Model with "
                                   "device='cuda', or initialise the group with backend='gloo'")
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self._model, self._hook, self._epoch_phase = model, None, False
        if self._watchdog is not None:
            self._watchdog.stop()
            self._watchdog = None
        if self.world_size > 1 and self.watchdog_timeout > 0:
            caller, ident = sys._getframe(1), threading.get_ident()
            self._watchdog = Watchdog(self.watchdog_timeout, grace=self.watchdog_grace,
                                      label=f"rank {self.rank}/{self.world_size}",
                                      alive=lambda: _frame_alive(ident, caller)).start()
        trainable = [p for p in model.module.parameters() if p.requires_grad]
        if self.world_size == 1 or not trainable:
            return model.module
        from torch.nn.parallel import DistributedDataParallel as DDP

        try:
            ddp = DDP(model.module, device_ids=[device.index] if device.type == "cuda" else None, **self.ddp_options)
        except RuntimeError as e:
            raise DistributedError(peer_lost_message("wrapping the model in DistributedDataParallel (which checks "
                                                     "that all ranks hold the same parameter shapes and broadcasts "
                                                     "rank 0's weights)", e, self.timeout)) from e
        self._hook = _HookState(self.world_size, self.timeout)
        ddp.register_comm_hook(self._hook, _allreduce_hook)
        return ddp

    def shard(self, data: Any, *, seed: int | None = None, initial_epoch: int = 0) -> Any:
        if not self.shard_data:
            return data
        seed = self._agreed_seed(seed)
        if hasattr(data, "loader"):
            return self._shard_loader(data, seed, initial_epoch)
        sampler = _EpochSampler(int(data.x.shape[0]), num_replicas=self.world_size, rank=self.rank, shuffle=True,
                                seed=seed, drop_last=self.drop_last, start_epoch=initial_epoch)
        return _ShardedArrays(data.x, data.y, int(data.batch_size), sampler)

    def _agreed_seed(self, seed: int | None) -> int:
        if seed is not None:
            return int(seed)
        mine = random.SystemRandom().randrange(2**31) if self.rank == 0 else 0
        return int(self._all_reduce([mine], dist.ReduceOp.SUM, "agreeing on a shuffling seed")[0])

    def _shard_loader(self, data: Any, seed: int, initial_epoch: int) -> Any:
        loader: DataLoader = data.loader
        if isinstance(loader.dataset, IterableDataset):
            raise ValueError("strategy='ddp' cannot split an IterableDataset: yield a different part of the stream on "
                             "each rank (neuroplastic.distributed.get_rank()) and pass DDPStrategy(shard=False)")
        if loader.batch_size is None:
            raise ValueError("strategy='ddp' cannot split a DataLoader built with a batch_sampler: pass batch_size= "
                             "and shuffle= to the DataLoader, or shard it yourself with DDPStrategy(shard=False)")
        known = (RandomSampler, SequentialSampler, DistributedSampler)
        if not isinstance(loader.sampler, known):
            raise ValueError(f"strategy='ddp' cannot split a DataLoader with a {type(loader.sampler).__name__}: "
                             "shard it yourself (one DistributedSampler-like sampler per rank) and pass "
                             "DDPStrategy(shard=False)")
        shuffle = isinstance(loader.sampler, RandomSampler) or bool(getattr(loader.sampler, "shuffle", False))
        sampler = _EpochSampler(len(loader.dataset), num_replicas=self.world_size, rank=self.rank,  # type: ignore[arg-type]
                                shuffle=shuffle, seed=seed, drop_last=self.drop_last, start_epoch=initial_epoch)
        extra: dict[str, Any] = {}
        if loader.num_workers > 0:
            extra = {"prefetch_factor": loader.prefetch_factor, "persistent_workers": loader.persistent_workers,
                     "multiprocessing_context": loader.multiprocessing_context}
        shard = DataLoader(loader.dataset, batch_size=loader.batch_size, sampler=sampler, num_workers=loader.num_workers,
                           collate_fn=loader.collate_fn, pin_memory=loader.pin_memory, drop_last=loader.drop_last,
                           timeout=loader.timeout, worker_init_fn=loader.worker_init_fn, **extra)
        return type(data)(shard, data.needs_y)

    def callbacks(self, callbacks: list[Any]) -> list[Any]:
        kept = list(callbacks) if self.rank == 0 else [cb for cb in callbacks if not is_rank_zero_only(cb)]
        if self._watchdog is not None:
            kept.insert(0, _Heartbeat(self._watchdog))
        return kept

    def should_stop(self, model: Any) -> bool:
        """Agree on ``stop_training`` over ranks without an extra round trip per batch.

        After a batch, this rank's flag rides along with the next batch's gradient all-reduce
        (one more number in DDP's last bucket) and the agreed value is read at the next check.
        So a stop asked on any rank mid-epoch stops every rank after the *next* batch (one batch
        later than in a single process), or at the end of the epoch if that comes first (the
        flag then travels with the epoch's metric reduction); the check after ``on_epoch_end``
        is a synchronous all-reduce and exact.
        """
        self._tick("stop check")
        if self.world_size == 1:
            return bool(model.stop_training)
        hook = self._hook
        if self._epoch_phase or hook is None:  # after on_epoch_end (or no DDP wrapper): exact, synchronous
            self._epoch_phase = False
            flag = self._all_reduce([float(bool(model.stop_training))], dist.ReduceOp.MAX,
                                    "agreeing on stop_training")[0]
            model.stop_training = flag > 0
            return bool(model.stop_training)
        agreed, hook.received = hook.received, None
        if agreed is not None and agreed > 0:
            model.stop_training = True
            hook.send = 0.0
            return True
        hook.send = float(bool(model.stop_training))
        return False

    def reduce_epoch(self, total: float, count: int, metrics: Sequence[Any]) -> tuple[float, int]:
        if self.world_size == 1:
            return total, count
        pending = self._hook.send if self._hook is not None else 0.0  # a stop asked after the last batch
        if self._hook is not None:
            self._hook.send = 0.0
        self._epoch_phase = True
        summable = [m for m in metrics if isinstance(getattr(m, "total", None), (int, float))
                    and isinstance(getattr(m, "count", None), int)]
        for m in metrics:
            if m not in summable:
                warnings.warn(f"metric {getattr(m, 'name', m)!r} has no numeric total/count, so its value is this "
                              "rank's only: derive it from neuroplastic.training.Metric", RuntimeWarning, stacklevel=2)
        values = [float(total), float(count), pending]
        for m in summable:
            values += [float(m.total), float(m.count)]
        out = self._all_reduce(values, dist.ReduceOp.SUM, "summing the epoch's loss and metrics")
        if out.pop(2) > 0 and self._model is not None:
            self._model.stop_training = True
        for k, m in enumerate(summable):
            m.total, m.count = out[2 + 2 * k], int(round(out[3 + 2 * k]))
        self._tick("epoch logs reduced")
        return out[0], int(round(out[1]))

    def finish(self, model: Any) -> None:
        try:
            if self.world_size > 1:
                barrier(self.timeout)
        finally:
            if self._watchdog is not None:
                self._watchdog.stop()
                self._watchdog = None

    def __repr__(self) -> str:
        return (f"DDPStrategy(backend={self.backend!r}, timeout={self.timeout:g}, watchdog={self.watchdog_timeout:g}, "
                f"shard={self.shard_data}, drop_last={self.drop_last})")


class _HookState:
    """What the gradient hook needs, and the stop flag it carries: ``send`` goes out with the next
    backward's last bucket, ``received`` is the sum over ranks that came back."""

    def __init__(self, world_size: int, timeout: float) -> None:
        self.world_size, self.timeout = world_size, timeout
        self.send = 0.0
        self.received: float | None = None


def _allreduce_hook(state, bucket):  # no annotations: DDP checks them as objects, this module has string ones
    """DDP's default averaging (divide by the world size, then sum), with the stop flag appended to
    the last bucket and a clear error if a peer is lost."""
    buf = bucket.buffer()
    buf.div_(state.world_size)
    last = bucket.is_last()
    t = torch.cat([buf, buf.new_tensor([state.send])]) if last else buf
    fut = dist.all_reduce(t, async_op=True).get_future()

    def unwrap(f: torch.futures.Future) -> torch.Tensor:
        try:
            out = f.value()[0]
        except RuntimeError as e:
            raise DistributedError(peer_lost_message("the gradient all-reduce in backward()", e, state.timeout)) from e
        if last:
            state.received = float(out[-1])
            buf.copy_(out[:-1])
        return buf

    return fut.then(unwrap)


def _auto_strategy() -> Strategy:
    return get_strategy("auto")


# what ``Model.fit(strategy="...")`` finds by name (training sits below this package and looks them up)
for _name in ("none", "local", "single"):
    register_component("strategies", _name)(Strategy)
register_component("strategies", "ddp")(DDPStrategy)
register_component("strategies", "auto")(_auto_strategy)
