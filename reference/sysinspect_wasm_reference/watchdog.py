"""Stopping a guest at its deadline: a watchdog thread that raises into the guest's thread.

The interpreter loop pays nothing per instruction: when time is up, the
watchdog asks CPython to raise :class:`DeadlineExceeded` in the running thread
(``PyThreadState_SetAsyncExc``), which happens at the loop's next backward
jump. Blocking host calls bound their own waits by the deadline (see the
WASI layer's ``poll_oneoff`` and the host API's ``remaining()``), because an
asynchronous exception is only delivered between bytecodes.

The race with a guest that finishes just as time runs out is settled under a
lock: the watchdog fires at most once and only while the run is still
marked running; on exit the run is marked done and, if the watchdog had
fired, the pending exception is withdrawn. Whatever was not withdrawn was
delivered inside the guarded block, where the caller catches it, so nothing
can surface after the run returned.
"""

from __future__ import annotations

import ctypes
import threading
import time
from types import TracebackType

from .signals import DeadlineExceeded

_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc


class Watchdog:
    """A context manager that raises :class:`DeadlineExceeded` in its thread at ``deadline``.

    ``deadline`` is a :func:`time.monotonic` value; ``None`` means no limit.
    """

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.fired = False
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._running = False
        self._target = threading.get_ident()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Watchdog:
        if self.deadline is not None:
            self._running = True
            self._thread = threading.Thread(target=self._watch, name="sysinspect-wasm-watchdog", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.cancel()

    def cancel(self) -> None:
        """Stop watching; withdraw the exception if it was raised but not yet delivered."""
        if self._thread is None:
            return
        try:
            with self._lock:
                self._running = False
                fired = self.fired
            if fired:
                _set_async_exc(ctypes.c_ulong(self._target), None)
        finally:
            self._done.set()
            self._thread.join()

    def _watch(self) -> None:
        deadline = self.deadline
        if deadline is None:
            return
        while (left := deadline - time.monotonic()) > 0:
            if self._done.wait(left):
                return
        with self._lock:
            if self._running:
                self.fired = True
                _set_async_exc(ctypes.c_ulong(self._target), ctypes.py_object(DeadlineExceeded))
