"""Binding the shared host API (import module ``api``) into a linker of the lean binding (:mod:`.native`)."""

from __future__ import annotations

from sysinspect_wasm.hostapi import API_MODULE, BAD_CALL, HOST_FUNCTIONS
from sysinspect_wasm.result import HostCall

from . import native
from .native import Extern, Memory, byref, c, c_void_p, cast, memmove, string_at

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from sysinspect_wasm.hostapi import HostApi

_MEMORY = b"memory"
_PYTHON_EXCEPTION = b"python exception"  # what wasmtime-py's trampoline traps with when a callback raises


class CallerMemory:
    """A :class:`~sysinspect_wasm.hostapi.GuestMemory` over the calling instance's exported memory.

    The memory's base address is looked up on every access: it can move
    when the guest grows its memory.
    """

    def __init__(self, context: Any, memory: Memory) -> None:
        self._context = context
        self._memory = memory

    def size(self) -> int:
        """The memory's current size in bytes."""
        size: int = c.wasmtime_memory_data_size(self._context, byref(self._memory))
        return size

    def _address(self, ptr: int, length: int) -> int:
        if ptr < 0 or length < 0 or ptr + length > self.size():
            raise ValueError(f"region [{ptr}, {ptr + length}) is outside the guest's memory")
        base = c.wasmtime_memory_data(self._context, byref(self._memory))
        address: int = cast(base, c_void_p).value or 0
        return address + ptr

    def read(self, ptr: int, length: int) -> bytes:
        """Bytes at ``[ptr, ptr+length)``."""
        return string_at(self._address(ptr, length), length)

    def write(self, ptr: int, data: bytes) -> None:
        """Store ``data`` at ``ptr``."""
        memmove(self._address(ptr, len(data)), data, len(data))


# Host functions find their API and name through the callback's data pointer.
_BOUND: native.Registry[tuple[HostApi, str, bool]] = native.Registry()


def _caller_memory(caller: int) -> CallerMemory | None:
    found = Extern()
    if not c.wasmtime_caller_export_get(caller, _MEMORY, len(_MEMORY), byref(found)):
        return None
    if found.kind != native.EXTERN_MEMORY:
        return None
    return CallerMemory(c.wasmtime_caller_context(caller), found.of.memory)


def _call(data: int | None, caller: int, args: Any, nargs: int, results: Any, nresults: int) -> int:
    # Runs inside wasmtime on the guest's thread. A Python exception here could not cross into C, so nothing
    # escapes: as on the reference backend, a failure of our own answers -2 (bad call), is recorded, and the
    # guest goes on; only what is not an Exception (KeyboardInterrupt, SystemExit) stops the guest, with the
    # trap wasmtime-py's own trampoline gives it.
    try:
        api, name, has_result = _BOUND[data]
        values = tuple(args[i].of.i32 for i in range(nargs))
        try:
            answer = api.call(name, _caller_memory(caller), values)
        except Exception as exc:
            api.calls.append(HostCall(name, values, f"host error: {type(exc).__name__}: {exc}", None, BAD_CALL))
            answer = BAD_CALL
        if has_result and nresults:
            results[0].kind = native.VALKIND_I32
            results[0].of.i32 = BAD_CALL if answer is None else answer
        return 0
    except BaseException:
        trap: int = c.wasmtime_trap_new(_PYTHON_EXCEPTION, len(_PYTHON_EXCEPTION))
        return trap


# module-level, so the C function pointer lives as long as any linker using it
_CALL = native.FuncCallback(_call)


def bind_host_api(linker: Any, api: HostApi) -> None:
    """Define every function of :data:`HOST_FUNCTIONS` under ``api`` in ``linker``.

    ``linker``: a ``wasmtime_linker_t*``, or a wasmtime-py ``Linker`` (a traced run's, :mod:`.tracing`).
    """
    if hasattr(linker, "ptr"):
        linker = linker.ptr()
    module = API_MODULE.encode("utf-8")
    for name, (params, results) in HOST_FUNCTIONS.items():
        functype = native.functype_i32(len(params), len(results))
        encoded = name.encode("utf-8")
        try:
            native.check(c.wasmtime_linker_define_func(linker, module, len(module), encoded, len(encoded), functype,
                                                       _CALL, _BOUND.add((api, name, bool(results))), _BOUND.forget))
        finally:
            c.wasm_functype_delete(functype)
