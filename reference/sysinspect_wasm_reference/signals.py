"""Exceptions that stop a guest inside the pywasm engine, and what they carry.

They travel up through the interpreter loop to the backend, which turns each
into a :class:`~sysinspect_wasm.traps.Trap` (or an exit code). Every one of
them derives from :class:`GuestStop` so the backend can tell a guest event
from a bug in our own code.
"""

from __future__ import annotations

from sysinspect_wasm.errors import WasmRuntimeError
from sysinspect_wasm.traps import TrapKind


class GuestStop(WasmRuntimeError):
    """Base class: the guest cannot go on."""


class CheckFailed(GuestStop):
    """A runtime check of the interpreter failed (an ``assert`` of pywasm's source, made explicit).

    ``condition`` is the source text of the failed check, for messages only:
    classification looks at the machine, not at this text.
    """

    def __init__(self, condition: str) -> None:
        super().__init__(f"check failed: {condition}")
        self.condition = condition


class GuestExit(GuestStop):
    """The guest called ``proc_exit``."""

    def __init__(self, code: int) -> None:
        super().__init__(f"proc_exit({code})")
        self.code = code


class HostTrap(GuestStop):
    """The host stops the guest with trap ``kind``: a limit was hit (memory ceiling, output caps),
    or a host function was handed something it cannot serve (a pointer outside memory)."""

    def __init__(self, kind: TrapKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class DeadlineExceeded(BaseException):
    """Raised asynchronously into the guest's thread when the run's time is up.

    A ``BaseException`` so that no ``except Exception`` in pywasm, WASI or the
    host API can swallow it on its way out.
    """
