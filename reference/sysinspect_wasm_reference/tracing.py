"""``--trace`` on pywasm: every WASI and host API function of a run, wrapped to report its call as it returns.

Only a traced run is wrapped (and imports this module); :mod:`sysinspect_wasm.trace` formats the lines.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sysinspect_wasm.hostapi import HostApi
from sysinspect_wasm.trace import WASI_MODULE, CallTrace

from .hostbinding import exported_memory
from .signals import GuestExit


def trace_calls(runtime: Any, api: HostApi, write: Callable[[str], None]) -> None:
    """Report each call of ``runtime``'s WASI functions, and of ``api``'s, to ``write`` as it returns."""
    tracer = CallTrace(write)
    api.observe = tracer.host
    for name, extern in runtime.imports[WASI_MODULE].items():
        host = runtime.machine.store.func[extern.data]
        host.hostcode = _traced(tracer, name, host.hostcode)


def _traced(tracer: CallTrace, name: str, code: Callable[[Any, list[int]], list[int]]) -> Callable[[Any, list[int]], list[int]]:
    def call(machine: Any, args: list[int]) -> list[int]:
        memory = exported_memory(machine)

        def read(ptr: int, length: int) -> bytes:
            return b"" if memory is None or ptr < 0 or length < 0 else memory.read(ptr, length)

        try:
            results = code(machine, args)
        except GuestExit:  # proc_exit: it does not return, but it was called
            tracer.wasi(name, args, None, read)
            raise
        tracer.wasi(name, args, results[0] if results else None, read)
        return results

    return call
