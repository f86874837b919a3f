"""The production backend: the executor interface on wasmtime."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar, TypeVar

import wasmtime

from sysinspect_wasm.errors import GuestTrap, ModuleLoadError, WasmRuntimeError
from sysinspect_wasm.executor import Backend, Instance, Module
from sysinspect_wasm.result import VALUE_TYPES, ExportInfo, RunResult, Value
from sysinspect_wasm.spec import WASM_PAGE, Limits, RunSpec
from sysinspect_wasm.traps import TrapKind

from . import values
from .binary import ModuleLayout
from .engine import DEFAULT_SETTINGS, EngineSettings, engine_for
from .epoch import Interrupt
from .program import Program, annotate, compile_module, memory_over_ceiling
from .run import run_program
from .traps import classify

T = TypeVar("T")


class WasmtimeModule(Module):
    """A module compiled once; every run instantiates it in a fresh store."""

    def __init__(self, program: Program) -> None:
        self.name = program.name
        self.program = program

    @property
    def instrumentation_note(self) -> str:
        """Why memory.grow past the ceiling returns -1 instead of stopping the guest ("" when it stops it)."""
        return self.program.note

    def run(self, spec: RunSpec) -> RunResult:
        """Run ``_start`` as a WASI command under ``spec``; every guest failure is a trap in the result."""
        return run_program(self.program, spec)

    def instantiate(self, limits: Limits | None = None) -> WasmtimeInstance:
        """A bare instance (no WASI, no host API); the module must import nothing."""
        limits = limits or Limits()
        program = self.program
        imports = program.module.imports
        if imports:
            first = imports[0]
            raise ModuleLoadError(
                f"module {self.name!r} imports `{first.module}::{first.name}`: a bare instance has no imports",
                TrapKind.LINK_ERROR,
            )
        over = memory_over_ceiling(program, limits.memory_pages)
        if over is not None:
            raise GuestTrap(over)
        return WasmtimeInstance(program, limits)


class WasmtimeInstance(Instance):
    """A bare instance: call exports with raw values, read globals and memory.

    The time limit applies to each call (and to the start function) from its
    beginning; the memory ceiling to the instance's whole life. An instance
    is not meant to be used from several threads at once.
    """

    def __init__(self, program: Program, limits: Limits) -> None:
        """Instantiate ``program`` in a fresh store; a trapping start function raises :class:`GuestTrap`."""
        self._program = program
        self._limits = limits
        engine = program.handle.engine
        self._store = wasmtime.Store(engine)
        self._interrupt = Interrupt(engine)
        program.handle.clock.attach(self._store, self._interrupt)
        self._store.set_limits(memory_size=limits.memory_pages * WASM_PAGE)
        self._instance = self.guarded(lambda: wasmtime.Instance(self._store, program.module, []))

    def guarded(self, action: Callable[[], T]) -> T:
        """Run ``action`` under the time limit; a trap raises :class:`GuestTrap`."""
        timeout = self._limits.timeout
        interrupt = self._interrupt
        interrupt.rearm(None if timeout is None else time.monotonic() + timeout)
        clock = self._program.handle.clock
        try:
            if timeout is None:
                return action()
            with clock.ticking():
                return action()
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            raise GuestTrap(annotate(self._program, interrupt.reason or classify(exc, self._program.guards))) from None
        finally:
            interrupt.rearm(None)

    def _export(self, name: str, kind: type[T]) -> T:
        item = self._instance.exports(self._store).get(name)
        if not isinstance(item, kind):
            raise KeyError(f"no exported {kind.__name__.lower()} named {name!r}")
        return item

    def _layout(self) -> ModuleLayout:
        layout = self._program.layout
        if layout is None:
            raise WasmRuntimeError(f"the layout of module {self._program.name!r} could not be read")
        return layout

    def exports(self) -> list[ExportInfo]:
        """Every export in module order, with function signatures."""
        layout = self._layout()
        infos = []
        for export in layout.exports:
            signature = layout.signature(export.index) if export.kind == "func" else None
            if signature is None:
                infos.append(ExportInfo(export.name, export.kind))
            else:
                infos.append(ExportInfo(export.name, export.kind, signature.params, signature.results))
        return infos

    def call(self, name: str, args: Sequence[Value]) -> list[Value]:
        """Call exported function ``name`` with raw values; a trap raises :class:`GuestTrap`."""
        func = self._export(name, wasmtime.Func)
        found = self._program.export_signature(name)
        signature = found[1] if found else None
        if signature is None:
            raise WasmRuntimeError(f"the signature of {name!r} could not be read")
        params, results = signature.params, signature.results
        given = tuple(a.type for a in args)
        if given != params:
            raise TypeError(f"{name} takes {params}, not {given}")
        unsupported = [t for t in (*params, *results) if t not in VALUE_TYPES]
        if unsupported:
            raise values.UnsupportedValue(f"{name} uses types without a raw representation: {unsupported}")
        return self.guarded(lambda: values.call(self._store, func, args, params, results))

    def global_value(self, name: str) -> Value:
        """The current value of exported global ``name``."""
        return values.global_get(self._store, self._export(name, wasmtime.Global))

    def memory(self, name: str) -> bytes:
        """A copy of exported memory ``name``."""
        return bytes(self._export(name, wasmtime.Memory).read(self._store))


class WasmtimeBackend(Backend):
    """The production backend: wasmtime compiles each module to native code once."""

    name: ClassVar[str] = "wasmtime"

    def __init__(self, settings: EngineSettings = DEFAULT_SETTINGS) -> None:
        self.handle = engine_for(settings)

    def load(self, wasm: bytes | Path, *, name: str | None = None) -> WasmtimeModule:
        """Compile (once) a module; invalid bytes raise :class:`ModuleLoadError` naming it."""
        if isinstance(wasm, Path):
            name = name or wasm.stem
            try:
                data = wasm.read_bytes()
            except OSError as exc:
                raise ModuleLoadError(f"cannot read module {name!r} from {wasm}: {exc}") from None
        else:
            data = bytes(wasm)
        return WasmtimeModule(compile_module(self.handle, name or "module", data))
