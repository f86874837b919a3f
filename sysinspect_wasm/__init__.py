"""Shared core of the Sysinspect Wasm runtime: executor interface, results, traps, host API, cache rules.

Both backends build on it, and it imports neither: the executor interface
(:mod:`.executor`) they implement, the run spec and results, the host API
they bind, and the rules of their on-disk caches (the package :mod:`.store`).

The names below are imported from their modules on first use (PEP 562), so
that importing one module of the package (as the runtime's protocol path
does) does not import all of them.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .backends import BACKEND_CHOICES, get_backend
    from .errors import BackendUnavailable, GuestTrap, ModuleLoadError, WasmRuntimeError
    from .executor import Backend, Instance, Module
    from .hostapi import HOST_FUNCTIONS, HostApi, HostContext
    from .interfaces import GuestMemory
    from .result import ExportInfo, HostCall, RunResult, Value
    from .spec import Limits, Preopen, RunSpec
    from .traps import Frame, Trap, TrapKind

__version__ = "0.1.0"

_HOMES = {
    "BACKEND_CHOICES": "backends",
    "get_backend": "backends",
    "BackendUnavailable": "errors",
    "GuestTrap": "errors",
    "ModuleLoadError": "errors",
    "WasmRuntimeError": "errors",
    "Backend": "executor",
    "Instance": "executor",
    "Module": "executor",
    "HOST_FUNCTIONS": "hostapi",
    "GuestMemory": "interfaces",
    "HostApi": "hostapi",
    "HostContext": "hostapi",
    "ExportInfo": "result",
    "HostCall": "result",
    "RunResult": "result",
    "Value": "result",
    "Limits": "spec",
    "Preopen": "spec",
    "RunSpec": "spec",
    "Frame": "traps",
    "Trap": "traps",
    "TrapKind": "traps",
}

__all__ = [
    "BACKEND_CHOICES",
    "HOST_FUNCTIONS",
    "Backend",
    "BackendUnavailable",
    "ExportInfo",
    "Frame",
    "GuestMemory",
    "GuestTrap",
    "HostApi",
    "HostCall",
    "HostContext",
    "Instance",
    "Limits",
    "Module",
    "ModuleLoadError",
    "Preopen",
    "RunResult",
    "RunSpec",
    "Trap",
    "TrapKind",
    "Value",
    "WasmRuntimeError",
    "get_backend",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
