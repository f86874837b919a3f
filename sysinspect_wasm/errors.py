"""Exceptions raised by the executor layer (not by guests: guest failures are traps)."""

from __future__ import annotations

from .traps import Trap, TrapKind


class WasmRuntimeError(Exception):
    """Base class of every error this package raises on purpose."""


class BackendUnavailable(WasmRuntimeError):
    """The requested backend cannot be used on this host (e.g. no wasmtime wheel)."""


class ModuleLoadError(WasmRuntimeError):
    """A module could not be loaded: its bytes are not a valid WebAssembly module."""

    def __init__(self, message: str, kind: TrapKind = TrapKind.INVALID_MODULE) -> None:
        super().__init__(message)
        self.trap = Trap(kind, message)


class GuestTrap(WasmRuntimeError):
    """Raised by :meth:`Instance.call` when the called export traps."""

    def __init__(self, trap: Trap) -> None:
        super().__init__(str(trap))
        self.trap = trap
