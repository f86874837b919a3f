"""Capturing a guest's stdout or stderr up to a byte cap.

Wasmtime hands every write to the callback synchronously (on one of its own
I/O threads, before ``fd_write`` returns to the guest). The capture keeps
exactly the first ``cap`` bytes; the first byte past the cap stops the guest
with ``output limit`` through its Interrupt. The write is still reported as
complete so the guest does not retry it in the moment before it stops.
"""

from __future__ import annotations

import _thread

from .epoch import Interrupt


class CappedOutput:
    """One output stream of a run: the bytes kept, and whether the cap was passed."""

    def __init__(self, name: str, cap: int, interrupt: Interrupt) -> None:
        self.name = name
        self.cap = cap
        self.overflowed = False
        self._interrupt = interrupt
        self._data = bytearray()
        self._lock = _thread.allocate_lock()

    def write(self, chunk: bytes) -> None:
        """Wasmtime's custom-output callback; never raises (wasmtime-py would print the error)."""
        try:
            with self._lock:
                room = self.cap - len(self._data)
                if len(chunk) <= room:
                    self._data += chunk
                    return
                self._data += chunk[: max(room, 0)]
                first = not self.overflowed
                self.overflowed = True
            if first:
                from sysinspect_wasm.traps import TrapKind  # only past the cap: a warm call needs no enum

                self._interrupt.stop(
                    TrapKind.OUTPUT_LIMIT, f"the guest wrote more than {self.cap} bytes to {self.name}"
                )
        except BaseException:  # a callback from native code has nowhere to raise to
            pass

    def value(self) -> bytes:
        """A copy of the bytes kept so far."""
        with self._lock:
            return bytes(self._data)
