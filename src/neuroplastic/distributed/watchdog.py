"""A progress watchdog: the last line of defence against a distributed job that hangs.

Collective timeouts (:func:`~neuroplastic.distributed.init_distributed`'s ``timeout``) turn a
dead or silent peer into an error in most cases. Some hangs escape them: a collective stuck
inside a driver, a rank spinning in user code, a backend without timeouts. The watchdog is a
daemon thread that expects :meth:`Watchdog.tick` at least every ``timeout`` seconds (training
ticks it on every batch and callback hook). When a deadline passes it

1. writes a message naming the rank and the stall to stderr, with every thread's stack
   (:mod:`faulthandler`), so the log shows where the process is stuck;
2. interrupts the main thread (``KeyboardInterrupt``), which ends a hang in Python code;
3. if no tick arrives within ``grace`` seconds more, exits the process with
   :data:`EXIT_CODE`, so ``torchrun`` sees a failed worker and stops the other ranks.

Example:
    >>> import time
    >>> fired = []
    >>> with Watchdog(0.2, on_timeout=fired.append) as wd:
    ...     time.sleep(0.6)
    >>> "no progress for" in fired[0]
    True
"""
from __future__ import annotations

import _thread
import faulthandler
import os
import sys
import threading
import time
from typing import Callable

__all__ = ["EXIT_CODE", "Watchdog"]

#: Exit status of a process ended by the watchdog (EX_TEMPFAIL: worth a restart).
EXIT_CODE = 75


class Watchdog:
    """Expect :meth:`tick` every ``timeout`` seconds; interrupt, then end, a process that stalls.

    Args:
        timeout: seconds allowed between ticks.
        grace: seconds after the interrupt before the process is ended with :data:`EXIT_CODE`.
        label: names the process in the message (e.g. ``"rank 1/4"``).
        on_timeout: replaces the default action (message, interrupt, exit) with
            ``fn(message)``; used by tests and by callers with their own policy.
        alive: ``fn() -> bool`` polled with the clock; once it returns False the watchdog stops
            quietly (training ended, e.g. by an exception the caller handles).

    Attributes:
        fired: True once a deadline passed.
    """

    def __init__(self, timeout: float, *, grace: float = 30.0, label: str = "",
                 on_timeout: Callable[[str], None] | None = None, alive: Callable[[], bool] | None = None) -> None:
        if not float(timeout) > 0:
            raise ValueError(f"watchdog timeout must be a positive number of seconds, got {timeout!r}")
        if not float(grace) >= 0:
            raise ValueError(f"watchdog grace must be >= 0 seconds, got {grace!r}")
        self.timeout, self.grace, self.label = float(timeout), float(grace), label
        self.on_timeout, self.alive = on_timeout, alive
        self.fired = False
        self._last = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._what = "start"

    def tick(self, what: str = "") -> None:
        """Record progress (cheap: one clock read)."""
        self._last = time.monotonic()
        if what:
            self._what = what

    def start(self) -> "Watchdog":
        if self._thread is None:
            self._stop.clear()
            self._last = time.monotonic()
            self._thread = threading.Thread(target=self._run, name="neuroplastic-watchdog", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None

    def __enter__(self) -> "Watchdog":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _message(self, stalled: float) -> str:
        who = f"{self.label}: " if self.label else ""
        return (f"{who}no progress for {stalled:.0f} s (watchdog timeout {self.timeout:g} s; last step: {self._what}). "
                "A peer process probably died or a collective hung: read the other ranks' logs for the first "
                "error, then restart and resume from the last checkpoint.")

    def _run(self) -> None:
        period = min(1.0, self.timeout / 4)
        while not self._stop.wait(period):
            if self.alive is not None and not self.alive():
                self.alive = None  # release what the check holds (e.g. a frame and its tensors)
                return
            stalled = time.monotonic() - self._last
            if stalled < self.timeout:
                continue
            self.fired = True
            message = self._message(stalled)
            if self.on_timeout is not None:
                self.on_timeout(message)
                return
            self._default_action(message)
            return

    def _default_action(self, message: str) -> None:
        print(f"neuroplastic watchdog: {message}", file=sys.stderr, flush=True)
        try:
            faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        except (ValueError, OSError):  # stderr without a file descriptor (captured)
            pass
        last = self._last
        _thread.interrupt_main()
        if self._stop.wait(self.grace) or self._last != last:
            return  # the interrupt ended the stall (training stopped or moved on)
        print(f"neuroplastic watchdog: still stalled after {self.grace:g} s grace; exiting with status {EXIT_CODE}",
              file=sys.stderr, flush=True)
        os._exit(EXIT_CODE)
