"""Shared core of the Sysinspect Wasm runtime: executor interface, results, traps, host API."""

from .backends import BACKEND_CHOICES, get_backend
from .errors import BackendUnavailable, GuestTrap, ModuleLoadError, WasmRuntimeError
from .executor import Backend, Instance, Module
from .hostapi import HOST_FUNCTIONS, GuestMemory, HostApi, HostContext
from .result import ExportInfo, HostCall, RunResult, Value
from .spec import Limits, Preopen, RunSpec
from .traps import Trap, TrapKind

__version__ = "0.1.0"

__all__ = [
    "BACKEND_CHOICES",
    "HOST_FUNCTIONS",
    "Backend",
    "BackendUnavailable",
    "ExportInfo",
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
