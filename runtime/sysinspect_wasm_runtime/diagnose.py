"""Backend-neutral explanations of why a module cannot be loaded or linked.

The two backends word their load and link errors differently, but a response
must not depend on the backend. On those (rare) failure paths the runtime
reads the module's import and export sections itself (with the shared
:mod:`sysinspect_wasm.wasmbinary`, which needs no engine) and says, in its
own words, what is missing.
"""

from __future__ import annotations

from sysinspect_wasm.hostapi import API_MODULE, HOST_FUNCTIONS
from sysinspect_wasm.wasmbinary import (
    MAGIC,
    SECTION_EXPORT,
    VERSION_1,
    DecodeError,
    Signature,
    find_section,
    read_exports,
    read_import_signatures,
    read_sections,
)

from .wasip1 import WASI_MODULE, WASI_SIGNATURES, describe

WASI_FUNCTIONS = frozenset(WASI_SIGNATURES)
"""Every WASI preview 1 function (the table ``wasm-runtime check`` uses, held to wasmtime's linker by a test)."""

_KINDS = {"func": "function"}
"""How the messages name a kind where it differs from the binary format's short names."""


def _read(data: bytes) -> tuple[list[tuple[str, str, str, Signature | None]], dict[str, str]]:
    """The imports (module, name, kind, signature of a function) and the exports (name to kind)."""
    sections = read_sections(data)
    imports = [(entry.module, entry.name, _KINDS.get(entry.kind, entry.kind), signature)
               for entry, signature in read_import_signatures(data, sections)]
    export_section = find_section(sections, SECTION_EXPORT)
    exports = read_exports(data, export_section) if export_section is not None else []
    return imports, {export.name: _KINDS.get(export.kind, export.kind) for export in exports}


def link_problem(data: bytes) -> str | None:
    """Why a module that loaded cannot be linked and started, or ``None`` when no reason is found.

    Names the first import this runtime does not provide (or provides with
    another signature), or a missing ``_start`` export.
    """
    try:
        imports, exports = _read(data)
    except DecodeError:
        return None
    for module, name, kind, signature in imports:
        if module == API_MODULE and kind == "function" and name in HOST_FUNCTIONS:
            expected = HOST_FUNCTIONS[name]
            if signature is not None and (signature.params, signature.results) != expected:
                return (f"the module imports {module}.{name} as {describe((signature.params, signature.results))}, "
                        f"but the host provides {describe(expected)}")
            continue
        if module == WASI_MODULE and kind == "function" and name in WASI_FUNCTIONS:
            continue
        return f"the module imports {kind} {module}.{name}, which this runtime does not provide"
    if exports.get("_start") != "function":
        return "the module exports no _start function: it is not a WASI command"
    return None


def load_problem(data: bytes) -> str:
    """Why bytes that failed to load are not a usable module, in words that do not depend on the backend."""
    if len(data) < 8 or not data.startswith(MAGIC):
        return "the file is not a WebAssembly binary (it does not start with the bytes \\0asm)"
    if data[4:8] != VERSION_1:
        return "the file is not a WebAssembly core module of version 1"
    try:
        read_sections(data)
    except DecodeError:
        return "the file is truncated or its sections are malformed"
    return "the module does not validate as WebAssembly"
