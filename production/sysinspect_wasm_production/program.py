"""A compiled module and how it is made: rewritten, compiled, described.

:func:`compile_module` is the one place where module bytes become native
code; the compiled-artifact cache (:mod:`.cache`) wraps it, and gives back
artifacts it stored earlier through :func:`restore_program`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import wasmtime

from sysinspect_wasm.errors import ModuleLoadError
from sysinspect_wasm.traps import Trap, TrapKind

from .binary import DecodeError, ModuleLayout, Signature, read_layout
from .engine import EngineHandle
from .traps import summary

if TYPE_CHECKING:
    from .instrument import Instrumented


def __getattr__(name: str) -> Any:
    # The rewriter and its opcode tables are imported on first use: a call that
    # loads a cached artifact never compiles, and should not pay for them.
    if name in ("instrument", "Instrumented"):
        from . import instrument as rewriter

        value = getattr(rewriter, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class Program:
    """A compiled module with what a run needs to know about it."""

    name: str
    handle: EngineHandle
    module: wasmtime.Module
    guards: frozenset[int]
    layout: ModuleLayout | None
    note: str

    @property
    def initial_pages(self) -> int | None:
        """The largest initial size of the module's own memories (``None``: unknown)."""
        return None if self.layout is None else self.layout.initial_pages

    def export_signature(self, name: str) -> tuple[int, Signature | None] | None:
        """(function index, signature) of exported function ``name``; ``None`` when there is no such export.

        Signatures come from our own decoder: wasmtime's C API aborts the
        process when asked for the kind of a v128 or GC reference type.
        """
        if self.layout is None:
            return None
        for export in self.layout.exports:
            if export.name == name and export.kind == "func":
                return export.index, self.layout.signature(export.index)
        return None


def annotate(program: Program, trap: Trap) -> Trap:
    """``trap``, saying so when the module runs without the memory.grow guard."""
    if not program.note:
        return trap
    return Trap(trap.kind, f"{trap.message} [memory.grow is not instrumented: {program.note}]")


def memory_over_ceiling(program: Program, ceiling_pages: int) -> Trap | None:
    """The trap for a module whose initial memory is already above the ceiling."""
    if program.initial_pages is not None and program.initial_pages > ceiling_pages:
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
    this = sys.modules[__name__]  # the rewriter as a module attribute: imported on first use, replaceable in tests
    prepared: Instrumented = this.instrument(data)
    if prepared.wasm is not data:
        try:
            module = wasmtime.Module(handle.engine, prepared.wasm)
        except wasmtime.WasmtimeError as exc:
            prepared = this.Instrumented(data, layout=prepared.layout,
                                         note=f"rewritten module failed validation ({summary(str(exc))})")
        else:
            return Program(name, handle, module, prepared.guards, prepared.layout, prepared.note)
    try:
        module = wasmtime.Module(handle.engine, data)
    except wasmtime.WasmtimeError as exc:
        raise ModuleLoadError(f"module {name!r} is not a valid WebAssembly module: {summary(str(exc))}") from None
    return Program(name, handle, module, prepared.guards, prepared.layout, prepared.note)


def restore_program(handle: EngineHandle, name: str, data: bytes, module: wasmtime.Module,
                    guards: frozenset[int], note: str) -> Program:
    """The :class:`Program` that :func:`compile_module` made from ``data``, around its native code loaded again.

    ``guards`` and ``note`` are the ones the compilation produced (the cache
    stores them beside the artifact); the layout, which is cheap to decode,
    is read from ``data`` again exactly as the rewriter reads it.
    """
    try:
        layout: ModuleLayout | None = read_layout(data)
    except (DecodeError, IndexError):
        layout = None
    return Program(name, handle, module, guards, layout, note)
