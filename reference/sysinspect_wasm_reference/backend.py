"""The reference backend: the executor interface on the rewritten pywasm interpreter."""

from __future__ import annotations

import contextlib
import gc
import io
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from sysinspect_wasm.backends import PYWASM
from sysinspect_wasm.errors import GuestTrap, ModuleLoadError, WasmRuntimeError
from sysinspect_wasm.executor import Backend, Instance, Module
from sysinspect_wasm.hostapi import HostApi
from sysinspect_wasm.result import ExportInfo, RunResult, Value
from sysinspect_wasm.spec import Limits, RunSpec
from sysinspect_wasm.store import OFF
from sysinspect_wasm.traps import Frame, Trap, TrapKind

from .hostbinding import bind_host_api
from .loader import ENGINE
from .memory import CheckedStore
from .signals import DeadlineExceeded, GuestExit, GuestStop
from .traps import classify
from .typecheck import validate
from .validation import (
    KIND_FUNC,
    KIND_GLOBAL,
    KIND_MEMORY,
    InvalidModule,
    check_module,
    check_sections,
    import_mismatch,
)
from .values import from_pywasm, to_pywasm, type_name
from .wasi import CappedOutput, ConfinedWasi
from .watchdog import Watchdog

KIND_NAMES = {0x00: "func", 0x01: "table", 0x02: "memory", 0x03: "global"}
START = "_start"
GC_ALLOCATIONS = 100_000
"""Allocations between two young-generation collections while a guest runs (Python's default: 700).

The interpreter allocates a few objects per instruction (labels, values,
lists) and almost never a cycle, so with the default the collector ran
thousands of times per run for nothing: 12 % of a Go module's start-up
(measured: 2.71 s against 2.38 s of CPU). What a run leaves behind is still
collected, later.
"""


_runs_lock = threading.Lock()
_runs_under_way = 0
_saved_thresholds = gc.get_threshold()  # as they were before the first of the runs under way


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    global _runs_under_way, _saved_thresholds
    with _runs_lock:  # runs in several threads overlap: the last one to end restores the thresholds
        if not _runs_under_way:
            _saved_thresholds = gc.get_threshold()
            gc.set_threshold(max(_saved_thresholds[0], GC_ALLOCATIONS), *_saved_thresholds[1:])
        _runs_under_way += 1
    try:
        yield
    finally:
        with _runs_lock:
            _runs_under_way -= 1
            if not _runs_under_way:
                gc.set_threshold(*_saved_thresholds)


def _new_runtime(limits: Limits) -> Any:
    runtime = ENGINE.core.Runtime()
    runtime.machine.store = CheckedStore()
    runtime.machine.memory_ceiling_pages = limits.memory_pages
    return runtime


def _deadline(limits: Limits, started: float) -> float | None:
    return None if limits.timeout is None else started + limits.timeout


def _memory_over_ceiling(desc: Any, limits: Limits) -> Trap | None:
    """A module whose initial memory is already past the ceiling never starts."""
    for memory in desc.mems:
        if memory.limits.n > limits.memory_pages:
            return Trap(
                TrapKind.MEMORY_LIMIT,
                f"initial memory of {memory.limits.n} pages exceeds the ceiling of {limits.memory_pages} pages",
            )
    return None


def _link_error(desc: Any, runtime: Any) -> Trap | None:
    """The first import we cannot satisfy with a function of the same type, if any."""
    for imp in desc.imps:
        provided = runtime.imports.get(imp.module, {}).get(imp.name)
        if imp.kind != KIND_FUNC or provided is None:
            kind = KIND_NAMES.get(imp.kind, "item")
            return Trap(TrapKind.LINK_ERROR, f"unknown import: `{imp.module}::{imp.name}` ({kind}) has not been defined")
        if runtime.machine.store.func[provided.data].type != desc.type[imp.desc]:
            return Trap(TrapKind.LINK_ERROR, f"incompatible import type for `{imp.module}::{imp.name}`")
    return None


def _export(instance: Any, name: str, kind: int) -> int:
    for export in instance.exps:
        if export.name == name and export.data.kind == kind:
            address: int = export.data.data
            return address
    raise KeyError(f"no exported {KIND_NAMES[kind]} named {name!r}")


def _reset(machine: Any) -> None:
    machine.stack.frame.clear()
    machine.stack.label.clear()
    machine.stack.value.clear()


class PywasmModule(Module):
    """A module parsed once; every run instantiates it afresh.

    ``cache_status`` and ``artifact`` say how the module cache served it (see :mod:`.cache`).
    """

    def __init__(self, name: str, desc: Any, *, warnings: Sequence[str] = (), cache_status: str = OFF,
                 artifact: Path | None = None, wasm: bytes = b"") -> None:
        self.name = name
        self._desc = desc
        self._wasm = wasm  # the module's bytes: a trap's frames are found in them
        self.warnings = tuple(warnings)
        self.cache_status = cache_status
        self.artifact = artifact

    def module_bytes(self) -> bytes:
        """The module's bytes (held since it was loaded)."""
        return self._wasm

    def run(self, spec: RunSpec) -> RunResult:
        """Run ``_start`` as a WASI command under ``spec``; every guest failure is a trap in the result."""
        started = time.monotonic()
        limits = spec.limits
        deadline = _deadline(limits, started)
        api = HostApi(spec.host, deadline=deadline)
        stdout = CappedOutput("stdout", limits.stdout_bytes)
        stderr = CappedOutput("stderr", limits.stderr_bytes)
        try:
            wasi = ConfinedWasi(spec.argv, spec.env, spec.stdin, stdout, stderr, spec.preopens, deadline)
        except OSError as exc:
            raise WasmRuntimeError(f"cannot preopen a directory for module {self.name!r}: {exc}") from exc
        exit_code: int | None = None
        trap: Trap | None = None
        frames: tuple[Frame, ...] = ()
        try:
            with Watchdog(deadline), _fewer_collections():
                exit_code, trap, frames = self._start(wasi, api, limits, spec.trace)
        except DeadlineExceeded as exc:
            exit_code, trap = None, classify(exc, None)
        finally:
            wasi.close()
        return RunResult(
            exit_code=exit_code,
            stdout=bytes(stdout.data),
            stderr=bytes(stderr.data),
            trap=trap,
            host_calls=api.calls,
            logs=api.logs,
            elapsed=time.monotonic() - started,
            frames=frames,
        )

    def _start(self, wasi: ConfinedWasi, api: HostApi, limits: Limits,
               trace: Callable[[str], None] | None) -> tuple[int | None, Trap | None, tuple[Frame, ...]]:
        desc = self._desc
        trap = _memory_over_ceiling(desc, limits)
        if trap:
            return None, trap, ()
        runtime = _new_runtime(limits)
        wasi.bind(runtime)
        bind_host_api(runtime, api)
        if trace is not None:
            from .tracing import trace_calls

            trace_calls(runtime, api, trace)
        trap = _link_error(desc, runtime)
        if trap:
            return None, trap, ()
        machine = runtime.machine
        try:
            instance = runtime.instance(desc)
            try:
                address = _export(instance, START, KIND_FUNC)
            except KeyError:
                return None, Trap(TrapKind.LINK_ERROR, f"module {self.name!r} exports no function {START!r}"), ()
            func_type = machine.store.func[address].type
            if func_type.args or func_type.rets:
                return None, Trap(TrapKind.LINK_ERROR, f"{START!r} must take and return nothing"), ()
            machine.invocate(address, [])
        except GuestExit as exc:
            return exc.code, None, ()
        except (GuestStop, Exception) as exc:
            # Exception too: a pywasm bug must come back as a trap, never escape run()
            trap = classify(exc, machine)
            from .frames import trap_frames  # only a trap pays for reading the stack

            return None, trap, trap_frames(machine, self._wasm)
        return 0, None, ()

    def instantiate(self, limits: Limits | None = None,
                    imports: Mapping[str, Instance] | None = None) -> PywasmInstance:
        """A bare instance (no WASI, no host API), importing from the instances in ``imports``.

        See :meth:`Module.instantiate`: the instance joins the pywasm runtime
        (store) of the instances in ``imports`` (a fresh one when there are none).
        """
        limits = limits or Limits()
        imports = imports or {}
        desc = self._desc
        providers = [p for p in imports.values() if isinstance(p, PywasmInstance)]
        if len(providers) != len(imports) or any(p._runtime is not providers[0]._runtime for p in providers):
            raise ModuleLoadError(
                f"module {self.name!r}: the instances to import from must be pywasm instances of one store",
                TrapKind.LINK_ERROR,
            )
        trap = _memory_over_ceiling(desc, limits)
        if trap:
            raise GuestTrap(trap)
        runtime = providers[0]._runtime if providers else _new_runtime(limits)
        externs = []
        for imp in desc.imps:
            given = imports.get(imp.module)
            extern = given.extern(imp.name) if isinstance(given, PywasmInstance) else None
            if extern is None or extern.kind != imp.kind:
                kind = KIND_NAMES.get(imp.kind, "item")
                raise ModuleLoadError(f"module {self.name!r}: unknown import `{imp.module}::{imp.name}` ({kind}): no "
                                      f"instance given for {imp.module!r} exports a {kind} {imp.name!r}",
                                      TrapKind.LINK_ERROR)
            problem = import_mismatch(runtime.machine.store, desc, imp, extern)
            if problem:
                raise ModuleLoadError(f"module {self.name!r}: incompatible import type for `{imp.module}::{imp.name}`: "
                                      f"{problem}", TrapKind.LINK_ERROR)
            externs.append(extern)
        machine = runtime.machine
        instance = _guarded(machine, limits, lambda: machine.instance(desc, externs))
        return PywasmInstance(runtime, instance, limits)


def _guarded(machine: Any, limits: Limits, action: Any) -> Any:
    """Run ``action`` under the time limit; a trap raises :class:`GuestTrap`, the machine is left clean."""
    trap: Trap | None = None
    result: Any = None
    try:
        with Watchdog(_deadline(limits, time.monotonic())):
            try:
                result = action()
            except (GuestStop, Exception) as exc:
                trap = classify(exc, machine)
    except DeadlineExceeded as exc:
        trap = classify(exc, machine)
    if trap is not None:
        _reset(machine)
        raise GuestTrap(trap)
    return result


class PywasmInstance(Instance):
    """A bare instance: call exports with raw values, read globals and memory."""

    def __init__(self, runtime: Any, instance: Any, limits: Limits) -> None:
        self._runtime = runtime
        self._instance = instance
        self._limits = limits

    @property
    def _store(self) -> Any:
        return self._runtime.machine.store

    def extern(self, name: str) -> Any:
        """pywasm's ``Extern`` of export ``name``, to link another instance to it (``None``: no such export)."""
        for export in self._instance.exps:
            if export.name == name:
                return export.data
        return None

    def exports(self) -> list[ExportInfo]:
        """Every export in module order, with function signatures."""
        infos = []
        for export in self._instance.exps:
            kind = KIND_NAMES[export.data.kind]
            if export.data.kind == KIND_FUNC:
                func_type = self._store.func[export.data.data].type
                infos.append(ExportInfo(export.name, kind, tuple(map(type_name, func_type.args)), tuple(map(type_name, func_type.rets))))
            else:
                infos.append(ExportInfo(export.name, kind))
        return infos

    def call(self, name: str, args: Sequence[Value]) -> list[Value]:
        """Call exported function ``name``; a trap raises :class:`GuestTrap`."""
        address = _export(self._instance, name, KIND_FUNC)
        func_type = self._store.func[address].type
        expected = tuple(map(type_name, func_type.args))
        given = tuple(a.type for a in args)
        if given != expected:
            raise TypeError(f"{name} takes {expected}, not {given}")
        values = [to_pywasm(a) for a in args]
        machine = self._runtime.machine
        results = _guarded(machine, self._limits, lambda: machine.invocate(address, values))
        return [from_pywasm(r) for r in results]

    def global_value(self, name: str) -> Value:
        """The current value of exported global ``name``."""
        return from_pywasm(self._store.glob[_export(self._instance, name, KIND_GLOBAL)].data)

    def memory(self, name: str) -> bytes:
        """A copy of exported memory ``name``."""
        return bytes(self._store.mems[_export(self._instance, name, KIND_MEMORY)].data)


class PywasmBackend(Backend):
    """The reference backend: pure Python, slow, the oracle for differential testing.

    A module loaded from a path goes through the module cache (:mod:`.cache`):
    decoded in full on its first load, then only the function bodies a run
    calls. ``cache_dir`` and the variable ``SYSINSPECT_WASM_CACHE_DIR`` place
    its artifacts as the native cache's; ``cache=False`` always decodes in
    full. Modules loaded from bytes are never cached.
    """

    name: ClassVar[str] = PYWASM

    def __init__(self, *, cache_dir: str | os.PathLike[str] | None = None, cache: bool = True) -> None:
        self.cache_dir = cache_dir
        self.cache = cache and os.name == "posix"  # the cache's ownership checks are POSIX

    def load(self, wasm: bytes | str | os.PathLike[str], *, name: str | None = None) -> PywasmModule:
        """Parse (once) and check a module; invalid bytes raise :class:`ModuleLoadError` naming it."""
        if isinstance(wasm, str | os.PathLike):
            wasm = Path(wasm)
        if isinstance(wasm, Path):
            name = name or wasm.stem
            try:
                data = wasm.read_bytes()
            except OSError as exc:
                raise ModuleLoadError(f"cannot read module {name!r} from {wasm}: {exc}") from None
        else:
            data = bytes(wasm)
        module_name = name or "module"
        if isinstance(wasm, Path) and self.cache:
            from .cache import load

            # an artifact stands for a full decode and validation of these bytes (its key covers our checks'
            # sources), and its sections are decoded by the same rewritten pywasm (declared zero maximums included)
            decoded = load(wasm, data, lambda raw: _decode(module_name, raw), self.cache_dir)
            return PywasmModule(module_name, decoded.desc, warnings=decoded.warnings, cache_status=decoded.status,
                                artifact=decoded.artifact, wasm=data)
        return PywasmModule(module_name, _decode(module_name, data), wasm=data)


def _decode(name: str, data: bytes) -> Any:
    """Module ``data`` decoded in full by pywasm and checked; raises :class:`ModuleLoadError` naming ``name``."""
    try:
        # reads the module to its last byte or raises: rewrite 25 left its section loop no other way out
        desc = ENGINE.core.ModuleDesc.from_reader(io.BytesIO(data))
        check_module(desc)
        facts = check_sections(data)
        if facts.data_count is not None and facts.data_count != len(desc.data):
            raise InvalidModule(f"data count and data section have inconsistent lengths ({facts.data_count} and "
                                f"{len(desc.data)})")
        validate(desc, facts.data_count)
    except Exception as exc:
        raise ModuleLoadError(f"module {name!r} is not a valid WebAssembly module: {type(exc).__name__}: {exc}") from None
    return desc
