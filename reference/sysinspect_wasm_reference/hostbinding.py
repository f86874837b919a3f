"""Binding the shared host API (import module ``api``) into a pywasm runtime."""

from __future__ import annotations

from typing import Any

from sysinspect_wasm.hostapi import API_MODULE, BAD_CALL, HOST_FUNCTIONS, HostApi
from sysinspect_wasm.result import HostCall

from .loader import ENGINE

EXPORT_KIND_MEMORY = 0x02


class InstanceMemory:
    """A :class:`~sysinspect_wasm.hostapi.GuestMemory` over a pywasm memory instance."""

    def __init__(self, memory: Any) -> None:
        self._memory = memory

    def size(self) -> int:
        """The memory's current size in bytes."""
        return len(self._memory.data)

    def read(self, ptr: int, length: int) -> bytes:
        """Bytes at ``[ptr, ptr+length)``."""
        return bytes(self._memory.data[ptr:ptr + length])

    def write(self, ptr: int, data: bytes) -> None:
        """Store ``data`` at ``ptr``."""
        self._memory.data[ptr:ptr + len(data)] = data


def exported_memory(machine: Any) -> InstanceMemory | None:
    """The calling instance's exported ``memory``, or ``None`` when it exports none."""
    module = machine.stack.frame[-1].module
    for export in module.exps:
        if export.name == "memory" and export.data.kind == EXPORT_KIND_MEMORY:
            return InstanceMemory(machine.store.mems[export.data.data])
    return None


def bind_host_api(runtime: Any, api: HostApi) -> None:
    """Register every function of :data:`HOST_FUNCTIONS` under ``api``, forwarding to ``api.call``.

    A Python exception inside the host API is a bug of ours, not the guest's:
    the call answers -2 (bad call) and is recorded, and the guest goes on.
    """
    core = ENGINE.core
    i32 = core.ValType.i32()
    runtime.imports.setdefault(API_MODULE, {})
    for name, (params, results) in HOST_FUNCTIONS.items():

        def hostcode(machine: Any, args: list[int], name: str = name, results: tuple[str, ...] = results) -> list[int]:
            try:
                answer = api.call(name, exported_memory(machine), tuple(args))
            except Exception as exc:
                api.calls.append(HostCall(name, tuple(args), f"host error: {type(exc).__name__}: {exc}", None, BAD_CALL))
                answer = BAD_CALL
            if not results:
                return []
            return [BAD_CALL if answer is None else answer]

        func_type = core.FuncType([i32] * len(params), [i32] * len(results))
        runtime.imports[API_MODULE][name] = runtime.allocate_func_host(func_type, hostcode)
