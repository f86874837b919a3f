"""The root of the project's exceptions, and those the executor layer raises (guest failures are traps).

Every exception class of the project derives from :class:`WasmRuntimeError`
(keeping another base, such as ``ValueError``, where callers catch that), so
``except WasmRuntimeError`` tells our own refusals from bugs and from the
libraries' errors. The one exception is the pywasm backend's
``DeadlineExceeded``, a ``BaseException`` on purpose (see its docstring);
``tests/test_errors.py`` holds the list.

This module imports nothing at import time: :mod:`.records` (below
:mod:`.traps`) derives its ``FrozenInstanceError`` from the root.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .traps import Trap, TrapKind


class WasmRuntimeError(Exception):
    """Base class of every error this package raises on purpose."""


class BackendUnavailable(WasmRuntimeError):
    """The requested backend cannot be used on this host (e.g. no wasmtime wheel)."""


class ModuleLoadError(WasmRuntimeError):
    """A module could not be loaded: its bytes are not a valid WebAssembly module."""

    def __init__(self, message: str, kind: TrapKind | None = None) -> None:
        from .traps import Trap, TrapKind

        super().__init__(message)
        self.trap = Trap(TrapKind.INVALID_MODULE if kind is None else kind, message)


class GuestTrap(WasmRuntimeError):
    """Raised by :meth:`Instance.call` when the called export traps."""

    def __init__(self, trap: Trap) -> None:
        super().__init__(str(trap))
        self.trap = trap
