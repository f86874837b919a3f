"""``--trace`` on wasmtime: the guest's WASI imports become traced Python functions that call the native ones.

wasmtime's WASI functions are native, and a native WASI function finds the
guest's memory through its caller's ``memory`` export, so a Python function
cannot simply call it (it has no caller). The guest is therefore linked to
traced Python functions, and once it is instantiated a small trampoline module
is: it imports the native WASI functions the guest uses and the guest's own
memory, re-exports that memory as ``memory``, and exports one function per
WASI function that forwards its arguments. A traced function calls its
trampoline (whose caller, the trampoline instance, exports the guest's
memory), then reports the call with the memory as the call left it. Only a
traced run builds any of this and imports this module; :mod:`sysinspect_wasm.trace`
formats the lines.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import wasmtime

from sysinspect_wasm.errors import WasmRuntimeError
from sysinspect_wasm.hostapi import HostApi
from sysinspect_wasm.trace import WASI_MODULE, CallTrace

from .hostbind import bind_host_api

_MEMORY_MODULE = "sysinspect-trace"


class TraceSetupError(WasmRuntimeError):
    """A traced run could not be set up (the guest exports no ``memory`` for WASI to use)."""


class Stops:
    """What stopped the guest inside a traced WASI call (``proc_exit``'s exit, a trap), to report it as itself.

    A native WASI function that stops the guest raises in our Python function,
    and wasmtime-py turns any exception a host function raises into an untyped
    "python exception" trap, keeping the exception in a process-wide slot. The
    run asks :meth:`passed_on` for the real one, which also empties that slot
    (so that no later call of wasmtime-py raises it again).
    """

    def __init__(self) -> None:
        self.raised: list[BaseException] = []

    def passed_on(self, exc: Exception) -> Exception:
        """The exception that really stopped the guest: ``exc``, or the one a traced call passed on."""
        if not self.raised:
            return exc
        from wasmtime import _func  # wasmtime-py's slot of the last host exception (no public way to clear it)

        _func.LAST_EXCEPTION = None
        first = self.raised[0]
        return first if isinstance(first, Exception) else exc


def traced_instance(store: wasmtime.Store, engine: wasmtime.Engine, wasi_linker: wasmtime.Linker,
                    module: wasmtime.Module, api: HostApi, write: Callable[[str], None],
                    stops: Stops) -> wasmtime.Instance:
    """``module`` instantiated with its WASI and ``api`` calls reported to ``write`` (``wasi_linker``: WASI defined).

    Raises what :meth:`wasmtime.Linker.instantiate` raises, so a link error is reported as untraced runs report it;
    what stops the guest inside a WASI call is kept in ``stops``.
    """
    tracer = CallTrace(write)
    api.observe = tracer.host
    trampolines: dict[str, wasmtime.Func] = {}
    memory: list[wasmtime.Memory] = []
    guest_linker = wasmtime.Linker(engine)
    wasi_imports: list[tuple[str, wasmtime.FuncType]] = []
    for item in module.imports:
        if item.module == WASI_MODULE and isinstance(item.type, wasmtime.FuncType) and item.name is not None:
            wasi_imports.append((item.name, item.type))
            guest_linker.define_func(WASI_MODULE, item.name, item.type,
                                     _traced(store, tracer, item.name, trampolines, memory, stops))
    bind_host_api(guest_linker, api)
    try:
        instance = guest_linker.instantiate(store, module)
    finally:
        guest_linker.close()
    exported = instance.exports(store).get("memory")
    if not isinstance(exported, wasmtime.Memory):
        raise TraceSetupError("cannot trace a module that exports no memory named 'memory' (WASI needs it)")
    memory.append(exported)
    wasi_linker.define(store, _MEMORY_MODULE, "memory", exported)
    shim = wasi_linker.instantiate(store, wasmtime.Module(engine, _trampolines(wasi_imports)))
    for name, _type in wasi_imports:
        function = shim.exports(store).get(name)
        if isinstance(function, wasmtime.Func):
            trampolines[name] = function
    return instance


def _trampolines(imports: list[tuple[str, wasmtime.FuncType]]) -> str:
    """The trampoline module's text: the guest's memory and each WASI function, forwarded."""
    lines = [f'(module (import "{_MEMORY_MODULE}" "memory" (memory 0))']
    functions = ['(export "memory" (memory 0))']
    for index, (name, func_type) in enumerate(imports):
        params = " ".join(str(t) for t in func_type.params)
        results = " ".join(str(t) for t in func_type.results)
        signature = (f"(param {params})" if params else "") + (f" (result {results})" if results else "")
        lines.append(f'(import "{WASI_MODULE}" "{name}" (func $f{index} {signature}))')  # imports come first
        forwarded = " ".join(f"(local.get {arg})" for arg in range(len(func_type.params)))
        functions.append(f'(func (export "{name}") {signature} (call $f{index} {forwarded}))')
    return "\n".join([*lines, *functions, ")"])


def _traced(store: wasmtime.Store, tracer: CallTrace, name: str, trampolines: dict[str, wasmtime.Func],
            memory: list[wasmtime.Memory], stops: Stops) -> Callable[..., Any]:
    def read(ptr: int, length: int) -> bytes:
        if not memory or ptr < 0 or length <= 0:
            return b""
        size = memory[0].data_len(store)
        return bytes(memory[0].read(store, ptr, min(size, ptr + length))) if ptr < size else b""

    def call(*args: int) -> Any:
        trampoline = trampolines.get(name)
        if trampoline is None:  # a start function calls WASI before the trampolines exist
            raise TraceSetupError(f"cannot trace {WASI_MODULE}.{name} called by the module's start function")
        try:
            result = trampoline(store, *args)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:  # proc_exit (ExitTrap), or WASI trapped the guest
            if isinstance(exc, wasmtime.ExitTrap):  # it does not return, but it was called
                tracer.wasi(name, args, None, read)
            stops.raised.append(exc)
            raise
        tracer.wasi(name, args, result if isinstance(result, int) else None, read)
        return result

    return call
