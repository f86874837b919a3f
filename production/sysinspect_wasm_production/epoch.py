"""Stopping guests through epoch interruption: per-store decisions on an engine-wide clock.

Wasmtime checks the engine's epoch at every function entry and loop
back-edge; when it has reached the store's deadline, it calls the store's
epoch-deadline callback. Every store gets a deadline of one tick and a
callback that asks the store's own :class:`Interrupt` whether to stop:

* an engine-wide ticker thread increments the epoch every
  :data:`TICK_SECONDS` while at least one timed run is active, so a guest
  spinning in a loop reaches its callback within a tick of its deadline;
* anything that must stop a guest right now (an output cap overflowed, the
  runner gave up waiting) records the reason in the Interrupt and increments
  the epoch once.

Because each callback only consults its own Interrupt, increments caused by
other runs merely cost a callback and a "carry on": concurrent runs on the
same engine never interrupt each other wrongly.
"""

from __future__ import annotations

import _thread
import os
import time

from . import native
from .native import c

TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from typing import Any

    import wasmtime

    from sysinspect_wasm.traps import Trap, TrapKind

# Locks come from _thread: module threading (its Condition and Thread) is
# imported only once a timed run starts the ticker.

TICK_SECONDS = 0.01
"""How often the ticker advances the epoch while a timed run is active."""


def engine_pointer(engine: wasmtime.Engine | int) -> Any:
    """What the lean binding takes for ``engine``: a native ``wasm_engine_t*``, or a wasmtime-py Engine's pointer."""
    return engine if isinstance(engine, int) else engine.ptr()


class Interrupt:
    """Whether one store's guest must stop, and why.

    ``deadline`` is a :func:`time.monotonic` value (``None``: no time limit).
    The first reason recorded wins; it is what the run reports.
    """

    def __init__(self, engine: wasmtime.Engine | int, deadline: float | None = None) -> None:
        self._engine = engine_pointer(engine)
        self._lock = _thread.allocate_lock()
        self.deadline = deadline
        self.reason: Trap | None = None

    def rearm(self, deadline: float | None) -> None:
        """Start over for a new call: no reason to stop, and a new deadline."""
        with self._lock:
            self.reason = None
            self.deadline = deadline

    def stop(self, kind: TrapKind, message: str) -> None:
        """Stop the guest at its next epoch check (the first reason given wins)."""
        from sysinspect_wasm.traps import Trap  # not at import: a warm call that is never stopped needs no enum

        with self._lock:
            if self.reason is None:
                self.reason = Trap(kind, message)
        c.wasmtime_engine_increment_epoch(self._engine)

    def should_stop(self) -> bool:
        """True when the guest must stop now; a passed deadline becomes the reason ``timeout``."""
        if self.reason is not None:
            return True
        if self.deadline is not None and time.monotonic() >= self.deadline:
            from sysinspect_wasm.traps import Trap, TrapKind

            with self._lock:
                if self.reason is None:
                    self.reason = Trap(TrapKind.TIMEOUT, "the guest ran past its time limit")
            return True
        return False


# Stores find their Interrupt through the callback's data pointer.
_INTERRUPTS: native.Registry[Interrupt] = native.Registry()
_STOP_MESSAGE = b"sysinspect: guest stopped by the host"


def _stop_error() -> int:
    error: int = c.wasmtime_error_new(_STOP_MESSAGE)
    return error


def _on_deadline(context: object, data: int | None, delta: Any, kind: Any) -> int:
    # Runs inside wasmtime on the guest's thread: it must never raise.
    try:
        interrupt = _INTERRUPTS.get(data)
        if interrupt is None or not interrupt.should_stop():
            delta[0] = 1
            kind[0] = native.UPDATE_DEADLINE_CONTINUE
            return 0
        return _stop_error()
    except BaseException:
        return _stop_error()


# module-level, so the C function pointer lives as long as any store using it
_ON_DEADLINE = native.DeadlineCallback(_on_deadline)


class EpochClock:
    """The epoch ticker of one engine, and the wiring of stores to their Interrupts."""

    def __init__(self, engine: wasmtime.Engine | int) -> None:
        self._engine = engine_pointer(engine)
        self._forget_thread()
        # a forked child has no ticker thread (nor the parent's runs): start afresh there
        os.register_at_fork(after_in_child=self._forget_thread)

    def _forget_thread(self) -> None:
        self._setup = _thread.allocate_lock()
        self._made: threading.Condition | None = None
        self._timed_runs = 0
        self._thread: threading.Thread | None = None

    @property
    def _condition(self) -> threading.Condition:
        made = self._made
        if made is None:
            with self._setup:
                if self._made is None:
                    import threading

                    self._made = threading.Condition()
                made = self._made
        return made

    def attach(self, store: Any, context: Any, interrupt: Interrupt) -> None:
        """Make ``store`` consult ``interrupt`` at every epoch tick (required before running any code).

        ``store`` and ``context``: a ``wasmtime_store_t*`` and its ``wasmtime_context_t*`` (native, or a
        wasmtime-py Store's ``ptr()`` and ``_context()``).
        """
        c.wasmtime_store_epoch_deadline_callback(store, _ON_DEADLINE, _INTERRUPTS.add(interrupt), _INTERRUPTS.forget)
        c.wasmtime_context_set_epoch_deadline(context, 1)

    def ticking(self) -> _Ticking:
        """A context manager that keeps the epoch advancing for the duration of a timed run or call."""
        return _Ticking(self)

    def start_ticking(self) -> None:
        """One more timed run or call is under way: tick (starting the ticker thread the first time)."""
        with self._condition:
            self._timed_runs += 1
            if self._thread is None:
                import threading

                self._thread = threading.Thread(target=self._tick, name="sysinspect-wasm-epoch", daemon=True)
                self._thread.start()
            self._condition.notify_all()

    def stop_ticking(self) -> None:
        """A timed run or call is over."""
        with self._condition:
            self._timed_runs -= 1

    def _tick(self) -> None:
        while True:
            with self._condition:
                while self._timed_runs == 0:
                    self._condition.wait()
            time.sleep(TICK_SECONDS)
            c.wasmtime_engine_increment_epoch(self._engine)


class _Ticking:
    """:meth:`EpochClock.ticking` (a class rather than ``contextlib.contextmanager``: contextlib stays unloaded)."""

    def __init__(self, clock: EpochClock) -> None:
        self._clock = clock

    def __enter__(self) -> None:
        self._clock.start_ticking()

    def __exit__(self, *exc: object) -> None:
        self._clock.stop_ticking()
