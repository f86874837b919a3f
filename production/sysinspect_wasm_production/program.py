"""A compiled module and how it is made: rewritten, compiled, described.

:func:`compile_module` is the one place where module bytes become native
code; the compiled-artifact cache (:mod:`.cache`) wraps it, and gives back
artifacts it stored earlier through :func:`restore_program`.
"""

from __future__ import annotations

import sys

from sysinspect_wasm.errors import ModuleLoadError

from .native import NativeModule

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    import wasmtime

    from sysinspect_wasm.traps import Trap
    from sysinspect_wasm.wasmbinary import ModuleLayout, Signature

    from .engine import EngineHandle
    from .instrument import Instrumented

    LayoutFacts = dict[str, Any]
    # What a run needs of a module's layout, as plain JSON values (the cache stores it beside an artifact):
    # ``initial_pages`` (int, ``None``: unknown) and ``start``, the ``[params, results]`` of the exported
    # function ``_start`` (``None``: no such export, or its signature is unknown).

START = "_start"
"""The export a WASI command runs."""


_UNREAD: Any = object()


def __getattr__(name: str) -> Any:
    # The rewriter and its opcode tables are imported on first use: a call that
    # loads a cached artifact never compiles, and should not pay for them.
    if name in ("instrument", "Instrumented"):
        from . import instrument as rewriter

        value = getattr(rewriter, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def layout_facts(layout: ModuleLayout | None) -> LayoutFacts:
    """The :data:`LayoutFacts` of ``layout`` (``None``: a layout that could not be read)."""
    if layout is None:
        return {"initial_pages": None, "start": None}
    start = None
    for export in layout.exports:
        if export.name == START and export.kind == "func":
            signature = layout.signature(export.index)
            if signature is not None:
                start = [list(signature.params), list(signature.results)]
            break
    return {"initial_pages": layout.initial_pages, "start": start}


def valid_facts(facts: object) -> bool:
    """True when ``facts`` has the shape of :data:`LayoutFacts` (e.g. as read back from a file)."""
    if not isinstance(facts, dict) or set(facts) != {"initial_pages", "start"}:
        return False
    pages, start = facts["initial_pages"], facts["start"]
    if pages is not None and type(pages) is not int:
        return False
    return start is None or (isinstance(start, list) and len(start) == 2 and all(
        isinstance(types, list) and all(isinstance(t, str) for t in types) for types in start))


class Program:
    """A compiled module with what a run needs to know about it.

    A program restored from a cached artifact (:func:`restore_program`)
    answers a run's questions (:attr:`initial_pages`, :meth:`start_signature`)
    from the facts stored with the artifact, and decodes its ``layout`` from
    the module's bytes only when something asks for it, once.

    Not a value record: a program is the one object around its compiled
    module (compared by identity, not hashable by content), and it keeps the
    layout it decodes late; its fields are not reassigned. The module is a
    wasmtime-py ``Module`` (compiled) or a :class:`~.native.NativeModule`
    (loaded from an artifact by the lean binding); :attr:`module` gives it
    as wasmtime-py's, :attr:`native_module` as the lean binding's.
    """

    __slots__ = ("_bytes", "_facts", "_layout", "_module", "_native", "_source", "guards", "handle", "name", "note")
    name: str
    handle: EngineHandle
    guards: frozenset[int]
    note: str

    def __init__(self, name: str, handle: EngineHandle, module: wasmtime.Module | NativeModule,
                 guards: frozenset[int], layout: ModuleLayout | None, note: str) -> None:
        self.name = name
        self.handle = handle
        self._module = module
        self._native: NativeModule | None = module if isinstance(module, NativeModule) else None
        self.guards = guards
        self.note = note
        self._layout: Any = layout
        self._facts: LayoutFacts | None = None
        self._source: Callable[[], bytes | None] | None = None
        self._bytes: Any = _UNREAD

    def __repr__(self) -> str:
        return f"Program(name={self.name!r}, guards={len(self.guards)}, note={self.note!r})"

    @property
    def module(self) -> wasmtime.Module:
        """The compiled module as a wasmtime-py ``Module`` (around a clone of a native one, made on first use)."""
        module = self._module
        if isinstance(module, NativeModule):
            import ctypes

            import wasmtime
            from wasmtime import _ffi

            from .native import c

            clone = c.wasmtime_module_clone(module.ptr)
            module = wasmtime.Module._from_ptr(ctypes.cast(clone, ctypes.POINTER(_ffi.wasmtime_module_t)))
            self._module = module
        return module

    @property
    def native_module(self) -> Any:
        """The compiled module for the lean binding (:mod:`.native`): a ``wasmtime_module_t*``."""
        module = self._module
        if isinstance(module, NativeModule):
            return module.ptr
        if self._native is not None:  # made into a wasmtime-py Module since: the native one is still ours
            return self._native.ptr
        return module.ptr()

    def module_bytes(self) -> bytes | None:
        """The bytes of the module as its author built it (``None``: no longer to be had); for a trap's frames,
        its backtrace and the layout. Read once (a file is read, and checked against its digest, on first use):
        everything a trap needs is then found in the same bytes."""
        found: bytes | None = self._bytes
        if found is _UNREAD:
            source = self._source
            found = self._bytes = None if source is None else source()
        return found

    @classmethod
    def restored(cls, name: str, handle: EngineHandle, module: wasmtime.Module | NativeModule, guards: frozenset[int], note: str,
                 facts: LayoutFacts, source: Callable[[], bytes | None]) -> Program:
        """A program whose layout is decoded on first use from ``source()`` (``None``: unreadable).

        ``facts`` must be the :func:`layout_facts` of that layout.
        """
        program = cls(name, handle, module, guards, None, note)
        program._layout, program._facts, program._source = _UNREAD, facts, source
        return program

    @property
    def layout(self) -> ModuleLayout | None:
        """The module's index spaces, signatures, memories and exports (``None``: could not be read)."""
        layout: ModuleLayout | None = self._layout
        if layout is _UNREAD:  # set by restored()
            data = self.module_bytes()
            layout = None if data is None else read_layout_or_none(data)
            self._layout = layout
        return layout

    @property
    def initial_pages(self) -> int | None:
        """The largest initial size of the module's own memories (``None``: unknown)."""
        facts = self._facts
        if facts is not None:
            pages: int | None = facts["initial_pages"]
            return pages
        layout = self.layout
        return None if layout is None else layout.initial_pages

    def start_signature(self) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        """``(params, results)`` of the exported function ``_start``; ``None``: no such export, or unknown."""
        facts = self._facts
        if facts is None:
            facts = layout_facts(self.layout)
        start = facts["start"]
        return None if start is None else (tuple(start[0]), tuple(start[1]))

    def export_signature(self, name: str) -> tuple[int, Signature | None] | None:
        """(function index, signature) of exported function ``name``; ``None`` when there is no such export.

        Signatures come from our own decoder: wasmtime's C API aborts the
        process when asked for the kind of a v128 or GC reference type.
        """
        layout = self.layout
        if layout is None:
            return None
        for export in layout.exports:
            if export.name == name and export.kind == "func":
                return export.index, layout.signature(export.index)
        return None


def annotate(program: Program, trap: Trap) -> Trap:
    """``trap``, saying so when the module runs without the memory.grow guard."""
    if not program.note:
        return trap
    from sysinspect_wasm.traps import Trap

    return Trap(trap.kind, f"{trap.message} [memory.grow is not instrumented: {program.note}]")


def memory_over_ceiling(program: Program, ceiling_pages: int) -> Trap | None:
    """The trap for a module whose initial memory is already above the ceiling."""
    if program.initial_pages is not None and program.initial_pages > ceiling_pages:
        from sysinspect_wasm.traps import Trap, TrapKind

        return Trap(
            TrapKind.MEMORY_LIMIT,
            f"initial memory of {program.initial_pages} pages exceeds the ceiling of {ceiling_pages} pages",
        )
    return None


def compile_module(handle: EngineHandle, name: str, data: bytes) -> Program:
    """Instrument and compile ``data``; invalid bytes raise :class:`ModuleLoadError` naming the module.

    The rewritten module is compiled (and so validated) by wasmtime before
    use; should it ever fail where the original compiles, the original runs
    uninstrumented and :attr:`Program.note` says so.
    """
    import wasmtime

    from .traps import summary

    this = sys.modules[__name__]  # the rewriter as a module attribute: imported on first use, replaceable in tests
    prepared: Instrumented = this.instrument(data)
    if prepared.wasm is not data:
        try:
            module = wasmtime.Module(handle.engine, prepared.wasm)
        except wasmtime.WasmtimeError as exc:
            prepared = this.Instrumented(data, layout=prepared.layout,
                                         note=f"rewritten module failed validation ({summary(str(exc))})")
        else:
            program = Program(name, handle, module, prepared.guards, prepared.layout, prepared.note)
            program._source = lambda: data  # a trap's frames are carried back to these bytes
            return program
    try:
        module = wasmtime.Module(handle.engine, data)
    except wasmtime.WasmtimeError as exc:
        raise ModuleLoadError(f"module {name!r} is not a valid WebAssembly module: {summary(str(exc))}") from None
    program = Program(name, handle, module, prepared.guards, prepared.layout, prepared.note)
    program._source = lambda: data  # a trap's frames are read against these bytes
    return program


def read_layout_or_none(data: bytes) -> ModuleLayout | None:
    """The layout of module ``data`` as the rewriter reads it; ``None`` when it cannot be decoded."""
    from sysinspect_wasm.wasmbinary import DecodeError, read_layout

    try:
        return read_layout(data)
    except (DecodeError, IndexError):
        return None


def restore_program(handle: EngineHandle, name: str, data: bytes | Callable[[], bytes | None],
                    module: wasmtime.Module | NativeModule, guards: frozenset[int], note: str,
                    facts: LayoutFacts | None = None) -> Program:
    """The :class:`Program` that :func:`compile_module` made from ``data``, around its native code loaded again.

    ``guards`` and ``note`` are the ones the compilation produced, ``facts``
    its :func:`layout_facts` (the cache stores them beside the artifact).
    ``data`` is the module's bytes, or a function that reads them (``None``
    when they are no longer the module's): the layout is decoded from them,
    exactly as the rewriter reads it, right away without ``facts``, else on
    first use.
    """
    if facts is None:
        raw = data if isinstance(data, bytes) else data()
        program = Program(name, handle, module, guards, None if raw is None else read_layout_or_none(raw), note)
        program._source = lambda: raw  # a trap's frames are carried back to these bytes
        return program
    source = data if callable(data) else lambda: data
    return Program.restored(name, handle, module, guards, note, facts, source)
