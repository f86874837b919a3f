"""Binding the shared host API (import module ``api``) into a wasmtime linker."""

from __future__ import annotations

import ctypes
from typing import Any

import wasmtime

from sysinspect_wasm.hostapi import API_MODULE, BAD_CALL, HOST_FUNCTIONS, HostApi
from sysinspect_wasm.result import HostCall


class CallerMemory:
    """A :class:`~sysinspect_wasm.hostapi.GuestMemory` over the calling instance's exported memory.

    The memory's base address is looked up on every access: it can move
    when the guest grows its memory.
    """

    def __init__(self, caller: wasmtime.Caller, memory: wasmtime.Memory) -> None:
        self._caller = caller
        self._memory = memory

    def size(self) -> int:
        """The memory's current size in bytes."""
        return self._memory.data_len(self._caller)

    def _address(self, ptr: int, length: int) -> int:
        if ptr < 0 or length < 0 or ptr + length > self.size():
            raise ValueError(f"region [{ptr}, {ptr + length}) is outside the guest's memory")
        base = ctypes.addressof(self._memory.data_ptr(self._caller).contents)
        return base + ptr

    def read(self, ptr: int, length: int) -> bytes:
        """Bytes at ``[ptr, ptr+length)``."""
        return ctypes.string_at(self._address(ptr, length), length)

    def write(self, ptr: int, data: bytes) -> None:
        """Store ``data`` at ``ptr``."""
        ctypes.memmove(self._address(ptr, len(data)), data, len(data))


def _host_function(api: HostApi, name: str, has_result: bool) -> Any:
    def call(caller: wasmtime.Caller, *args: int) -> int | None:
        # A Python exception here would become an untyped trap and leave
        # wasmtime-py's process-wide "last exception" set, so nothing escapes:
        # as on the reference backend, a failure of our own answers -2 (bad
        # call), is recorded, and the guest goes on.
        try:
            exported = caller.get("memory")
            memory = CallerMemory(caller, exported) if isinstance(exported, wasmtime.Memory) else None
            answer = api.call(name, memory, tuple(args))
        except Exception as exc:
            api.calls.append(HostCall(name, tuple(args), f"host error: {type(exc).__name__}: {exc}", None, BAD_CALL))
            answer = BAD_CALL
        if not has_result:
            return None
        return BAD_CALL if answer is None else answer

    return call


def bind_host_api(linker: wasmtime.Linker, api: HostApi) -> None:
    """Define every function of :data:`HOST_FUNCTIONS` under ``api`` in ``linker``, forwarding to ``api.call``."""
    i32 = wasmtime.ValType.i32()
    for name, (params, results) in HOST_FUNCTIONS.items():
        func_type = wasmtime.FuncType([i32] * len(params), [i32] * len(results))
        linker.define_func(API_MODULE, name, func_type, _host_function(api, name, bool(results)), access_caller=True)
