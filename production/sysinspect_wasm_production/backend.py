"""The production backend: the executor interface on wasmtime."""

from __future__ import annotations

import os
import time

from sysinspect_wasm.backends import WASMTIME
from sysinspect_wasm.errors import GuestTrap, ModuleLoadError, WasmRuntimeError
from sysinspect_wasm.executor import Backend, Instance, Module
from sysinspect_wasm.paths import read_bytes, stem
from sysinspect_wasm.spec import WASM_PAGE, Limits
from sysinspect_wasm.store import OFF

from .engine import DEFAULT_SETTINGS, EngineSettings, engine_for
from .epoch import Interrupt
from .program import Program, annotate, compile_module, memory_over_ceiling
from .run import run_program

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path
    from typing import ClassVar, TypeVar

    import wasmtime

    from sysinspect_wasm.result import ExportInfo, RunResult, Value
    from sysinspect_wasm.spec import RunSpec
    from sysinspect_wasm.wasmbinary import ModuleLayout

    from .engine import EngineHandle

    T = TypeVar("T")

# wasmtime-py is imported by what needs it (compiling, bare instances), never by a WASI run of a cached artifact.


class WasmtimeModule(Module):
    """A module compiled once; every run instantiates it in a fresh store.

    ``warnings`` holds what an operator should hear about how the module was
    loaded (an unwritable or untrusted cache folder, a damaged or refused
    artifact); the runtime adds them to the response's ``warning`` list. The
    module itself is correct whatever they say. ``cache_status`` is
    ``loaded`` (from a compiled artifact), ``compiled`` (and stored),
    ``uncached`` (compiled, not stored: see the warnings) or ``off``
    (loaded from bytes, or the backend was made with ``cache=False``);
    ``artifact`` is the artifact's path when there is one.
    """

    def __init__(self, program: Program, *, warnings: Sequence[str] = (), cache_status: str = OFF,
                 artifact: Path | str | None = None) -> None:
        self.name = program.name
        self.program = program
        self.warnings: list[str] = list(warnings)
        self.cache_status = cache_status
        self._artifact = artifact

    @property
    def artifact(self) -> Path | None:
        """The artifact's path, when there is one (a warm load keeps it as a string until asked)."""
        artifact = self._artifact
        if isinstance(artifact, str):
            from pathlib import Path

            artifact = self._artifact = Path(artifact)
        return artifact

    @property
    def instrumentation_note(self) -> str:
        """Why memory.grow past the ceiling returns -1 instead of stopping the guest ("" when it stops it)."""
        return self.program.note

    def run(self, spec: RunSpec) -> RunResult:
        """Run ``_start`` as a WASI command under ``spec``; every guest failure is a trap in the result."""
        return run_program(self.program, spec)

    def module_bytes(self) -> bytes | None:
        """The module's bytes (see :meth:`.Program.module_bytes`)."""
        return self.program.module_bytes()

    def instantiate(self, limits: Limits | None = None,
                    imports: Mapping[str, Instance] | None = None) -> WasmtimeInstance:
        """A bare instance (no WASI, no host API), importing from the instances in ``imports``.

        See :meth:`Module.instantiate`: the instance joins the store of the
        instances in ``imports`` (a fresh store when there are none).
        """
        from sysinspect_wasm.traps import TrapKind

        limits = limits or Limits()
        imports = imports or {}
        program = self.program
        providers = [p for p in imports.values() if isinstance(p, WasmtimeInstance)]
        if len(providers) != len(imports) or any(p.shared is not providers[0].shared for p in providers):
            raise ModuleLoadError(
                f"module {self.name!r}: the instances to import from must be wasmtime instances of one store",
                TrapKind.LINK_ERROR,
            )
        externs = []
        for wanted in program.module.imports:
            given = imports.get(wanted.module)
            name = wanted.name or ""
            item = given.extern(name) if isinstance(given, WasmtimeInstance) else None
            if item is None:
                raise ModuleLoadError(
                    f"module {self.name!r}: unknown import `{wanted.module}::{name}`: no instance given for "
                    f"{wanted.module!r} exports {name!r}",
                    TrapKind.LINK_ERROR,
                )
            externs.append(item)
        over = memory_over_ceiling(program, limits.memory_pages)
        if over is not None:
            raise GuestTrap(over)
        shared = providers[0].shared if providers else SharedStore(program.handle, limits)
        return WasmtimeInstance(program, limits, shared, externs)


class SharedStore:
    """A wasmtime store with its interrupt: the instances linked to each other live in one.

    Its memory ceiling is the one of the limits it was made with (the first
    instance's); each instance applies its own time limit to its calls.
    """

    def __init__(self, handle: EngineHandle, limits: Limits) -> None:
        import wasmtime

        self.store = wasmtime.Store(handle.engine)
        self.interrupt = Interrupt(handle.native)
        handle.clock.attach(self.store.ptr(), self.store._context(), self.interrupt)
        self.store.set_limits(memory_size=limits.memory_pages * WASM_PAGE)


class WasmtimeInstance(Instance):
    """A bare instance: call exports with raw values, read globals and memory.

    The time limit applies to each call (and to the start function) from its
    beginning; the memory ceiling to the instance's whole life. An instance
    is not meant to be used from several threads at once.
    """

    def __init__(self, program: Program, limits: Limits, shared: SharedStore | None = None,
                 externs: Sequence[wasmtime.Func | wasmtime.Table | wasmtime.Memory | wasmtime.Global] = ()) -> None:
        """Instantiate ``program`` in ``shared`` (default: a fresh store) with ``externs`` for its imports.

        A trapping start function or segment raises :class:`GuestTrap`; imports of the wrong type
        raise :class:`ModuleLoadError` (kind ``link error``).
        """
        import wasmtime

        from sysinspect_wasm.traps import TrapKind

        self._program = program
        self._limits = limits
        self.shared = shared or SharedStore(program.handle, limits)
        self._store = self.shared.store
        self._interrupt = self.shared.interrupt
        try:
            self._instance = self.guarded(lambda: wasmtime.Instance(self._store, program.module, list(externs)),
                                          linking=True)
        except GuestTrap as exc:
            if exc.trap.kind is TrapKind.LINK_ERROR:
                raise ModuleLoadError(f"module {program.name!r}: {exc.trap.message}", TrapKind.LINK_ERROR) from None
            raise

    def guarded(self, action: Callable[[], T], *, linking: bool = False) -> T:
        """Run ``action`` under the time limit; a trap raises :class:`GuestTrap`."""
        import wasmtime

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
            from .traps import classify

            trap = interrupt.reason or classify(exc, self._program.guards, linking=linking)
            raise GuestTrap(annotate(self._program, trap)) from None
        finally:
            interrupt.rearm(None)

    def extern(self, name: str) -> wasmtime.Func | wasmtime.Table | wasmtime.Memory | wasmtime.Global | None:
        """The export ``name`` as wasmtime's object, to link another instance to it (``None``: no such export)."""
        import wasmtime

        item = self._instance.exports(self._store).get(name)
        if isinstance(item, wasmtime.Func | wasmtime.Table | wasmtime.Memory | wasmtime.Global):
            return item
        return None

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
        from sysinspect_wasm.result import ExportInfo

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
        import wasmtime

        from sysinspect_wasm.result import VALUE_TYPES

        from . import values

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
        import wasmtime

        from . import values

        return values.global_get(self._store, self._export(name, wasmtime.Global))

    def memory(self, name: str) -> bytes:
        """A copy of exported memory ``name``."""
        import wasmtime

        return bytes(self._export(name, wasmtime.Memory).read(self._store))


class WasmtimeBackend(Backend):
    """The production backend: wasmtime compiles each module to native code once.

    A module loaded from a path goes through the compiled-artifact cache
    (:mod:`.cache`): compiled on its first load, its native code stored as a
    ``.cwasm`` artifact and loaded from there afterwards. ``cache_dir=None``
    keeps artifacts beside the module, unless the environment variable
    ``SYSINSPECT_WASM_CACHE_DIR`` names a folder (an absolute path) for them;
    a ``cache_dir`` given here wins over the variable. ``cache=False`` always
    compiles in memory. Modules loaded from bytes are never cached: there is
    no module file to keep an artifact beside, and their callers (tests,
    differential runs) load generated modules once.
    """

    name: ClassVar[str] = WASMTIME

    def __init__(self, settings: EngineSettings = DEFAULT_SETTINGS, *,
                 cache_dir: str | os.PathLike[str] | None = None, cache: bool = True) -> None:
        self.handle = engine_for(settings)
        self.cache_dir = cache_dir
        self.cache = cache and os.name == "posix"  # the cache's locks and ownership checks are POSIX

    def load(self, wasm: bytes | str | os.PathLike[str], *, name: str | None = None) -> WasmtimeModule:
        """Compile (once) a module; invalid bytes raise :class:`ModuleLoadError` naming it.

        From a path, the compiled-artifact cache is used (see the class); the
        module's ``warnings`` say when it could not be. A path given as a
        ``str`` stays one: :mod:`pathlib` stays off a warm call.
        """
        if not isinstance(wasm, str | os.PathLike):
            return WasmtimeModule(compile_module(self.handle, name or "module", bytes(wasm)))
        path = os.fspath(wasm)  # as given: the cache's messages and names read the same for a str or a Path
        name = name or stem(path)
        if self.cache:
            from .cache import load_program_file

            loaded = load_program_file(self.handle, name, path, self.cache_dir)
            return WasmtimeModule(loaded.program, warnings=loaded.warnings, cache_status=loaded.status,
                                  artifact=loaded.artifact)
        try:
            data = read_bytes(path)
        except OSError as exc:
            raise ModuleLoadError(f"cannot read module {name!r} from {path}: {exc}") from None
        return WasmtimeModule(compile_module(self.handle, name, data))
