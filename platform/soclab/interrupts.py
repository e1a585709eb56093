"""Stopping a sweep cleanly: Ctrl-C (SIGINT) and SIGTERM alike, or a tracking store that died.

While a sweep runs, the first SIGINT or SIGTERM asks for a graceful stop: Tune stops every trial
(through `SweepStopper`), the driver closes its bookkeeping (its sweep run KILLED, its claims
released) and stops Ray, then `SweepInterrupted` carries the signal out (exit 130 or 143). A
second signal stops at once. Tune's own SIGINT handler is switched off for the sweep
(`TUNE_DISABLE_SIGINT_HANDLER`) so both signals take the same path; without a Python handler,
SIGTERM would reach Ray's native handler, which aborts the driver with a C++ stack dump.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType
from typing import Any

from ray.tune import Stopper

HANDLED = (signal.SIGINT, signal.SIGTERM)


class SweepInterrupted(KeyboardInterrupt):
    """The sweep stopped on a signal; `exit_code` is the shell's 128 + signal number."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(signal.Signals(signum).name)


class _StopState:
    """Why the running sweep should stop (one per process; Tune pickles only the stopper)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None
        self.store_lost: str | None = None
        self.in_tune = False
        self.active = False
        self.summary: Any = None  # what an interrupted sweep had done, for the CLI

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]


STATE = _StopState()


class SweepStopper(Stopper):
    """Stops every trial of the Tuner once a stop was requested (signal or dead store)."""

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        if result.get("store_error"):  # a worker found the tracking store unusable
            request_stop(store_lost=str(result["store_error"]))
        return STATE.event.is_set()

    def stop_all(self) -> bool:
        return STATE.event.is_set()


def request_stop(store_lost: str | None = None) -> None:
    """Ask the running sweep to stop (from any thread), e.g. when its store stopped answering."""
    if store_lost and STATE.store_lost is None:
        STATE.store_lost = store_lost
    STATE.event.set()


def _handle(signum: int, frame: FrameType | None) -> None:
    if STATE.signum is not None or not STATE.in_tune:  # a second signal, or nothing to wind down
        STATE.signum = STATE.signum or signum
        STATE.event.set()
        raise SweepInterrupted(STATE.signum)
    STATE.signum = signum
    STATE.event.set()
    try:
        import sys

        print(f"\n{signal.Signals(signum).name}: stopping the sweep after closing its bookkeeping "
              "(again to stop at once)", file=sys.stderr, flush=True)
    except Exception:
        pass


def reinstall() -> None:
    """Put the sweep's handlers back after `ray.init`, which sets its own SIGTERM handler
    (`sys.exit` in the middle of whatever runs)."""
    if STATE.active and threading.current_thread() is threading.main_thread():
        for s in HANDLED:
            signal.signal(s, _handle)


class graceful_stop:
    """Context manager: SIGINT/SIGTERM handlers for a sweep (main thread only; elsewhere a no-op)."""

    def __enter__(self) -> _StopState:
        STATE.reset()
        self._old: dict[int, Any] = {}
        self._env = os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")
        if threading.current_thread() is threading.main_thread():
            os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
            for s in HANDLED:
                self._old[s] = signal.signal(s, _handle)
            STATE.active = True
        return STATE

    def __exit__(self, *exc: object) -> None:
        STATE.active = False
        for s, old in self._old.items():
            signal.signal(s, old)
        if self._old:
            if self._env is None:
                os.environ.pop("TUNE_DISABLE_SIGINT_HANDLER", None)
            else:
                os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = self._env


class tune_phase:
    """While Tune runs, the first signal winds down gracefully instead of raising at once."""

    def __enter__(self) -> None:
        STATE.in_tune = True

    def __exit__(self, *exc: object) -> None:
        STATE.in_tune = False
