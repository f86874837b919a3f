"""A module's exports and their types, without any engine (read with :mod:`sysinspect_wasm.wasmbinary`).

The differential harness needs this before it lets an engine see a module:
some engine bindings take the whole process down on value types they do not
support (finding F1: wasmtime's C API aborts on ``v128``), and a campaign
must survive any module it generates.
"""

from __future__ import annotations

from sysinspect_wasm.errors import WasmRuntimeError
from sysinspect_wasm.result import ExportInfo
from sysinspect_wasm.wasmbinary import (
    MAGIC,
    SECTION_EXPORT,
    SECTION_FUNCTION,
    SECTION_GLOBAL,
    SECTION_IMPORT,
    SECTION_TYPE,
    VERSION_1,
    DecodeError,
    Export,
    Signature,
    read_exports,
    read_functions,
    read_globals,
    read_imports,
    read_sections,
    read_types,
)


class FormatError(ValueError, WasmRuntimeError):
    """The bytes are not a module this reader understands."""


def export_types(wasm: bytes) -> list[ExportInfo]:
    """Every export of ``wasm`` in order, with the value types it carries (a global's type as its one result).

    Raises :class:`FormatError` for bytes this reader cannot follow (the
    callers then assume the worst).
    """
    if wasm[:8] != MAGIC + VERSION_1:
        raise FormatError("not a WebAssembly 1.0 module")
    signatures: list[Signature | None] = []
    functions: list[int] = []
    globals_: list[str] = []
    exports: list[Export] = []
    try:
        for section in read_sections(wasm, partial=True):  # a cut-off code section still has readable exports
            if section.id == SECTION_TYPE:
                signatures.extend(read_types(wasm, section))
            elif section.id == SECTION_IMPORT:
                for entry in read_imports(wasm, section):
                    if entry.type_index is not None:
                        functions.append(entry.type_index)
                    elif entry.valtype is not None:
                        globals_.append(entry.valtype)
            elif section.id == SECTION_FUNCTION:
                functions.extend(read_functions(wasm, section))
            elif section.id == SECTION_GLOBAL:
                globals_.extend(read_globals(wasm, section))
            elif section.id == SECTION_EXPORT:
                exports.extend(read_exports(wasm, section))
    except DecodeError as error:
        raise FormatError(str(error)) from None
    found = []
    for export in exports:
        if export.kind == "func":
            signature = signatures[functions[export.index]]
            if signature is None:
                raise FormatError("only function types are understood")
            found.append(ExportInfo(export.name, export.kind, signature.params, signature.results))
        elif export.kind == "global":
            found.append(ExportInfo(export.name, export.kind, (), (globals_[export.index],)))
        else:
            found.append(ExportInfo(export.name, export.kind))
    return found


def exports_carry(wasm: bytes, value_type: str) -> bool:
    """True when some export's type mentions ``value_type`` (or when the module cannot be read)."""
    try:
        return any(value_type in e.params + e.results for e in export_types(wasm))
    except (FormatError, IndexError):
        return True


def is_command(wasm: bytes) -> bool:
    """True when the module exports a function ``_start`` (a WASI command)."""
    try:
        return any(e.name == "_start" and e.kind == "func" for e in export_types(wasm))
    except (FormatError, IndexError):
        return False
