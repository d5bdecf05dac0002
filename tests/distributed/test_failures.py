"""Failures end in a clear error within a bound, never in a hang: a dead rank, a silent rank, a
rendezvous that cannot form, a missing launcher environment, and the watchdog's last resort."""
from __future__ import annotations

import os
import time

import pytest
import torch
from torch import nn

from neuroplastic.distributed import (
    EXIT_CODE,
    DDPStrategy,
    DistributedError,
    Strategy,
    Watchdog,
    get_strategy,
    init_distributed,
    is_rank_zero_only,
)
from neuroplastic.training import CSVLogger, EarlyStopping, LambdaCallback, Model, ProgbarLogger

TIMEOUT = 20.0  # collective timeout of the runs below; a test run ends far sooner when all is well
N = 64


def _fit(rank: int, callbacks: list, timeout: float = TIMEOUT, watchdog: float | None = None) -> None:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(N, 4, generator=g), torch.randn(N, 2, generator=g)
    model = Model(nn.Linear(4, 2), device="cpu").compile("sgd", "mse", lr=0.01)
    model.fit(x, y, epochs=20, batch_size=4, seed=0, verbose=0, callbacks=callbacks,
              strategy=DDPStrategy(timeout=timeout, watchdog=watchdog))


@pytest.mark.parametrize("hook", ["on_train_batch_begin", "on_train_batch_end"])
def test_a_killed_rank_gives_the_survivor_a_clear_error(launch, hook):
    """Rank 1 dies mid-epoch (os._exit): rank 0 is then in backward()'s gradient all-reduce
    (killed before its batch) or in the stop_training check (killed after it)."""

    def work(rank, world):
        die = LambdaCallback(**{hook: lambda b, logs: os._exit(3) if rank == 1 and b == 5 else None})
        _fit(rank, [die])

    r0, r1 = launch(work, timeout=60)
    assert r1.exitcode == 3
    assert r0.exitcode == 1 and "another rank probably died" in r0.error and "rank 0/2" in r0.error
    assert r0.seconds < TIMEOUT  # the peer's closed socket is noticed at once, not at the timeout


def test_a_silent_rank_times_out(launch):
    """Rank 1 stops taking part (alive, asleep): rank 0's next collective fails at the timeout."""

    def work(rank, world):
        nap = LambdaCallback(on_train_batch_begin=lambda b, logs: time.sleep(60) if rank == 1 and b == 3 else None)
        _fit(rank, [nap], timeout=2.0, watchdog=0)

    r0 = launch(work, timeout=40, until=[0])[0]
    assert r0.exitcode == 1 and "timeout 2 s" in r0.error and "another rank probably died" in r0.error
    assert r0.seconds < 30


def test_a_rendezvous_that_cannot_form_fails_within_its_timeout(launch):
    def work(rank, world):
        init_distributed(timeout=2.0)

    (r0,) = launch(work, world_size=2, start=[0], timeout=40)
    assert r0.exitcode == 1 and "DistributedError" in r0.error
    assert "did not form within 2 s" in r0.error and "all 2 processes were started" in r0.error
    assert r0.seconds < 30


def test_without_a_launcher_the_error_names_torchrun(monkeypatch):
    for key in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    model = Model(nn.Linear(2, 2), device="cpu").compile("sgd", "mse")
    with pytest.raises(DistributedError, match="torchrun --nproc-per-node"):
        model.fit(torch.zeros(4, 2), torch.zeros(4, 2), verbose=0, strategy="ddp")


def test_watchdog_fires_only_without_progress():
    fired: list[str] = []
    with Watchdog(0.3, on_timeout=fired.append, label="rank 1/2") as wd:
        for _ in range(8):  # ticks keep it quiet
            time.sleep(0.1)
            wd.tick("batch")
        assert not fired
        time.sleep(0.8)
    assert wd.fired and fired[0].startswith("rank 1/2: no progress for") and "last step: batch" in fired[0]
    quiet: list[str] = []
    with Watchdog(0.2, on_timeout=quiet.append, alive=lambda: False):  # the watched call has ended
        time.sleep(0.6)
    assert not quiet


def test_watchdog_interrupts_python_then_ends_a_stuck_process(launch, capfd):
    def busy(rank, world):  # a hang in Python code: the interrupt ends it
        Watchdog(0.5, grace=5.0).start()
        while True:
            pass

    def stuck(rank, world):  # a hang the interrupt cannot reach (a blocking C call): the exit does
        Watchdog(0.5, grace=0.5).start()
        time.sleep(60)

    (r,) = launch(busy, world_size=1, timeout=30)
    assert r.exitcode == 1 and r.error.startswith("KeyboardInterrupt")
    (r,) = launch(stuck, world_size=1, timeout=30)
    assert r.exitcode == EXIT_CODE
    err = capfd.readouterr().err
    assert "neuroplastic watchdog: no progress for" in err and f"exiting with status {EXIT_CODE}" in err


def test_strategy_resolution_and_settings(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert type(get_strategy(None)) is Strategy and type(get_strategy("none")) is Strategy
    assert type(get_strategy("auto")) is Strategy  # no launcher, no group: local
    assert isinstance(get_strategy("ddp"), DDPStrategy)
    s = DDPStrategy(timeout=7)
    assert get_strategy(s) is s and s.watchdog_timeout == 67
    with pytest.raises(ValueError, match="unknown strategy"):
        get_strategy("horovod")
    with pytest.raises(ValueError, match="backend"):
        DDPStrategy(backend="mpi")
    with pytest.raises(ValueError, match="timeout"):
        DDPStrategy(timeout=0)
    with pytest.raises(ValueError, match="0 disables"):
        DDPStrategy(watchdog=-1)


def test_writers_run_on_rank_zero_only(tmp_path):
    assert is_rank_zero_only(ProgbarLogger(1)) and is_rank_zero_only(CSVLogger(tmp_path / "a.csv"))
    assert not is_rank_zero_only(EarlyStopping()) and not is_rank_zero_only(LambdaCallback())
    mine = LambdaCallback(on_epoch_end=print)
    mine.rank_zero_only = True
    assert is_rank_zero_only(mine)
