"""Reading and writing the WebAssembly binary format: LEB128 numbers, sections, module layout.

The one reader of the format in the project, shared by the wasmtime backend
(and its memory.grow rewriter), the runtime's load and link diagnostics and
the differential harness. It reads the section list, the types and every
function's signature (for the rewriter's index spaces, and because
wasmtime's C API aborts the process when asked for the kind of a v128 or GC
reference type), every memory's limits, the imports, the globals' types and
the exports. Anything unexpected raises :class:`DecodeError`; the caller then
does without instead of guessing.

It imports no engine, and the runtime's warm protocol path does not import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .errors import WasmRuntimeError
from .spec import MAX_PAGES

MAGIC = b"\x00asm"
VERSION_1 = b"\x01\x00\x00\x00"

SECTION_CUSTOM = 0
SECTION_TYPE = 1
SECTION_IMPORT = 2
SECTION_FUNCTION = 3
SECTION_MEMORY = 5
SECTION_GLOBAL = 6
SECTION_EXPORT = 7
SECTION_CODE = 10

PAGES_64 = 1 << 48
"""The most 64 KiB pages a 64-bit memory can address."""

# Type constructors in the type section (GC proposal): a rec group holds
# several sub types; a sub type may carry supertypes before its composite type.
_REC_GROUP = 0x4E
_SUB = 0x50
_SUB_FINAL = 0x4F
_FUNC = 0x60
_STRUCT = 0x5F
_ARRAY = 0x5E
# A reference type written out in full: (ref null ht) or (ref ht).
_REF_NULL = 0x63
_REF = 0x64

_LIMITS_HAS_MAX = 0x01
_LIMITS_64 = 0x04
_LIMITS_PAGE_SIZE = 0x08


class DecodeError(WasmRuntimeError):
    """The bytes are not something this decoder understands."""


def read_u(data: bytes, pos: int) -> tuple[int, int]:
    """Decode an unsigned LEB128 at ``pos``; returns (value, position after it)."""
    result = 0
    shift = 0
    while True:
        try:
            byte = data[pos]
        except IndexError:
            raise DecodeError(f"truncated LEB128 at offset {pos}") from None
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise DecodeError(f"LEB128 too long at offset {pos}")


def skip_leb(data: bytes, pos: int) -> int:
    """The position after the LEB128 (signed or unsigned) at ``pos``."""
    start = pos
    try:
        while data[pos] & 0x80:
            pos += 1
    except IndexError:
        raise DecodeError(f"truncated LEB128 at offset {start}") from None
    if pos - start >= 10:
        raise DecodeError(f"LEB128 too long at offset {start}")
    return pos + 1


def encode_u(value: int) -> bytes:
    """Encode a non-negative integer as unsigned LEB128."""
    if value < 0:
        raise ValueError("encode_u needs a non-negative value")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_s(value: int) -> bytes:
    """Encode an integer as signed LEB128."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40):
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


_VALTYPE_NAMES = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x7B: "v128", 0x70: "funcref", 0x6F: "externref"}
_HEAP_FUNC = 0x70
_HEAP_EXTERN = 0x6F
OTHER_REFERENCE = "ref"
"""The name given to reference types that carry more than nullness (GC, typed function references)."""


def read_valtype(data: bytes, pos: int) -> tuple[str, int]:
    """The name of the value type at ``pos`` (see :data:`OTHER_REFERENCE`) and the position after it."""
    byte = data[pos]
    if byte in (_REF_NULL, _REF):
        end = skip_leb(data, pos + 1)
        heap = data[pos + 1] if end == pos + 2 else None
        if heap == _HEAP_FUNC:
            return "funcref", end
        if heap == _HEAP_EXTERN:
            return "externref", end
        return OTHER_REFERENCE, end
    if byte >= 0x80:
        raise DecodeError(f"unknown value type 0x{byte:02x} at offset {pos}")
    return _VALTYPE_NAMES.get(byte, OTHER_REFERENCE), pos + 1


def skip_valtype(data: bytes, pos: int) -> int:
    """The position after the value type at ``pos`` (one byte, or a full reference type)."""
    try:
        byte = data[pos]
    except IndexError:
        raise DecodeError(f"truncated value type at offset {pos}") from None
    if byte in (_REF_NULL, _REF):
        return skip_leb(data, pos + 1)
    if byte >= 0x80:
        raise DecodeError(f"unknown value type 0x{byte:02x} at offset {pos}")
    return pos + 1


def code_start(data: bytes, body: int) -> int:
    """Where the instructions of the function body starting at ``body`` begin (after its local declarations)."""
    groups, pos = read_u(data, body)
    for _ in range(groups):
        pos = skip_valtype(data, skip_leb(data, pos))
    return pos


@dataclass(frozen=True)
class Section:
    """One section: its id and where its payload lies in the module's bytes."""

    id: int
    start: int  # first byte of the section id
    payload_start: int
    end: int


@dataclass(frozen=True)
class MemoryInfo:
    """A memory's limits as declared by the module."""

    minimum: int
    maximum: int | None
    is_64: bool
    imported: bool

    @property
    def max_pages(self) -> int:
        """The declared maximum, or the most the index type can address."""
        if self.maximum is not None:
            return self.maximum
        return PAGES_64 if self.is_64 else MAX_PAGES


@dataclass(frozen=True)
class Signature:
    """A function type: parameter and result type names."""

    params: tuple[str, ...]
    results: tuple[str, ...]


@dataclass(frozen=True)
class Export:
    """An export: its name, kind ("func", "table", "memory", "global", "tag") and index."""

    name: str
    kind: str
    index: int


EXPORT_KINDS = {0x00: "func", 0x01: "table", 0x02: "memory", 0x03: "global", 0x04: "tag"}


@dataclass(frozen=True)
class ModuleLayout:
    """A module's index spaces, signatures, memories and exports."""

    sections: tuple[Section, ...]
    types: tuple[Signature | None, ...]  # None: a struct or array type
    func_types: tuple[int, ...]  # type index of every function, imported ones first
    imported_funcs: int
    memories: tuple[MemoryInfo, ...]
    exports: tuple[Export, ...]

    @property
    def type_count(self) -> int:
        """How many types the type section defines."""
        return len(self.types)

    @property
    def defined_funcs(self) -> int:
        """How many functions the module defines (not imports)."""
        return len(self.func_types) - self.imported_funcs

    def signature(self, func_index: int) -> Signature | None:
        """The signature of function ``func_index``."""
        if not 0 <= func_index < len(self.func_types):
            return None
        type_index = self.func_types[func_index]
        return self.types[type_index] if 0 <= type_index < len(self.types) else None

    def section(self, section_id: int) -> Section | None:
        """The (only) section with this id, if present."""
        return find_section(self.sections, section_id)

    @property
    def initial_pages(self) -> int:
        """The largest initial size among the module's own (not imported) memories."""
        return max((m.minimum for m in self.memories if not m.imported), default=0)


def find_section(sections: Sequence[Section], section_id: int) -> Section | None:
    """The first section with this id (the only one, but for custom sections), if present."""
    return next((section for section in sections if section.id == section_id), None)


def read_sections(data: bytes, partial: bool = False) -> tuple[Section, ...]:
    """Split a module into its sections (checking only the framing).

    With ``partial``, a truncated module keeps its last section, cut short at
    the end of the bytes, for readers that need only the sections before it.
    """
    if data[:4] != MAGIC:
        raise DecodeError("not a WebAssembly module (bad magic)")
    if data[4:8] != VERSION_1:
        raise DecodeError("not a core module of version 1")
    return frame_sections(data, partial)


def frame_sections(data: bytes, partial: bool = False) -> tuple[Section, ...]:
    """The sections after the 8-byte header, as :func:`read_sections` frames them, without looking at the header.

    For bytes that need not be a module: the validation differential's mutants may have a broken header and
    sections that still frame.
    """
    sections = []
    pos = 8
    while pos < len(data):
        start = pos
        section_id = data[pos]
        size, pos = read_u(data, pos + 1)
        end = pos + size
        if end > len(data) and partial:
            end = len(data)
        if end > len(data):
            raise DecodeError(f"section {section_id} at offset {start} runs past the end")
        sections.append(Section(section_id, start, pos, end))
        pos = end
    return tuple(sections)


def _read_limits(data: bytes, pos: int, imported: bool, custom_pages: bool = False) -> tuple[MemoryInfo, int]:
    """A memory's limits; with ``custom_pages`` a page size is skipped (the pages are then not 64 KiB)."""
    flags = data[pos]
    pos += 1
    if flags & ~(0x0F if custom_pages else 0x07):
        # custom page sizes would change what a "page" is; not understood here
        raise DecodeError(f"unsupported memory limits flags 0x{flags:02x}")
    minimum, pos = read_u(data, pos)
    maximum = None
    if flags & _LIMITS_HAS_MAX:
        maximum, pos = read_u(data, pos)
    if flags & _LIMITS_PAGE_SIZE:
        pos = skip_leb(data, pos)
    return MemoryInfo(minimum, maximum, bool(flags & _LIMITS_64), imported), pos


def _skip_table_limits(data: bytes, pos: int) -> int:
    flags = data[pos]
    pos = skip_leb(data, pos + 1)
    if flags & _LIMITS_HAS_MAX:
        pos = skip_leb(data, pos)
    return pos


def read_types(data: bytes, section: Section) -> list[Signature | None]:
    """The types a type section defines (rec groups flattened); ``None`` for a struct or array type."""
    count, pos = read_u(data, section.payload_start)
    types: list[Signature | None] = []
    try:
        for _ in range(count):
            if data[pos] == _REC_GROUP:
                members, pos = read_u(data, pos + 1)
            else:
                members = 1
            for _ in range(members):
                signature, pos = _read_subtype(data, pos)
                types.append(signature)
    except IndexError:
        raise DecodeError("truncated section") from None
    if pos != section.end:
        raise DecodeError("type section size mismatch")
    return types


def _read_subtype(data: bytes, pos: int) -> tuple[Signature | None, int]:
    if data[pos] in (_SUB, _SUB_FINAL):
        supers, pos = read_u(data, pos + 1)
        for _ in range(supers):
            pos = skip_leb(data, pos)
    kind = data[pos]
    pos += 1
    if kind == _FUNC:
        lists: list[tuple[str, ...]] = []
        for _ in range(2):  # params, results
            n, pos = read_u(data, pos)
            names = []
            for _ in range(n):
                name, pos = read_valtype(data, pos)
                names.append(name)
            lists.append(tuple(names))
        return Signature(lists[0], lists[1]), pos
    if kind == _STRUCT:
        n, pos = read_u(data, pos)
        for _ in range(n):
            pos = skip_valtype(data, pos) + 1  # storage type, mutability
        return None, pos
    if kind == _ARRAY:
        return None, skip_valtype(data, pos) + 1
    raise DecodeError(f"unknown composite type 0x{kind:02x}")


def _read_name(data: bytes, pos: int) -> tuple[str, int]:
    length, pos = read_u(data, pos)
    return data[pos : pos + length].decode("utf-8", "replace"), pos + length


_KIND_FUNC = 0x00
_KIND_TABLE = 0x01
_KIND_MEMORY = 0x02
_KIND_GLOBAL = 0x03
_KIND_TAG = 0x04
# Compact import groups (the compact-imports proposal, accepted by wasmtime):
# after the module name, an empty field name and one of these bytes.
_GROUP_NAMES_AND_TYPES = 0x7F
_GROUP_SHARED_TYPE = 0x7E


@dataclass(frozen=True)
class ImportEntry:
    """An import: module and field names, kind (as in :data:`EXPORT_KINDS`), and what the kind carries."""

    module: str
    name: str
    kind: str
    type_index: int | None = None  # functions
    valtype: str | None = None  # globals


_Extern = tuple[int, MemoryInfo | None, int | None, str | None]
"""An import's kind, its memory limits (memories), type index (functions) and value type (globals)."""


def _read_externtype(data: bytes, pos: int, custom_pages: bool) -> tuple[_Extern, int]:
    kind = data[pos]
    pos += 1
    if kind == _KIND_FUNC:  # type index
        type_index, pos = read_u(data, pos)
        return (kind, None, type_index, None), pos
    if kind == _KIND_TABLE:  # reference type, limits
        return (kind, None, None, None), _skip_table_limits(data, skip_valtype(data, pos))
    if kind == _KIND_MEMORY:
        memory, pos = _read_limits(data, pos, imported=True, custom_pages=custom_pages)
        return (kind, memory, None, None), pos
    if kind == _KIND_GLOBAL:  # value type, mutability
        valtype, pos = read_valtype(data, pos)
        return (kind, None, None, valtype), pos + 1
    if kind == _KIND_TAG:  # attribute, type index
        return (kind, None, None, None), skip_leb(data, pos + 1)
    raise DecodeError(f"unknown import kind 0x{kind:02x}")


def _read_import_entry(data: bytes, pos: int, custom_pages: bool) -> tuple[list[tuple[str, str, _Extern]], int]:
    """The (module, name, type) of every import in one import-section entry, and the position after it."""
    module, pos = _read_name(data, pos)
    name_length, after_length = read_u(data, pos)
    marker = data[after_length] if name_length == 0 else None
    found: list[tuple[str, str, _Extern]] = []
    if marker == _GROUP_NAMES_AND_TYPES:
        count, pos = read_u(data, after_length + 1)
        for _ in range(count):
            name, pos = _read_name(data, pos)
            extern, pos = _read_externtype(data, pos, custom_pages)
            found.append((module, name, extern))
        return found, pos
    if marker == _GROUP_SHARED_TYPE:
        extern, pos = _read_externtype(data, after_length + 1, custom_pages)
        count, pos = read_u(data, pos)
        for _ in range(count):
            name, pos = _read_name(data, pos)
            found.append((module, name, extern))
        return found, pos
    name, pos = _read_name(data, pos)
    extern, pos = _read_externtype(data, pos, custom_pages)
    return [(module, name, extern)], pos


def _read_import_section(data: bytes, section: Section, custom_pages: bool) -> list[tuple[str, str, _Extern]]:
    count, pos = read_u(data, section.payload_start)
    found: list[tuple[str, str, _Extern]] = []
    for _ in range(count):
        entries, pos = _read_import_entry(data, pos, custom_pages)
        found.extend(entries)
    if pos != section.end:
        raise DecodeError("import section size mismatch")
    return found


def read_imports(data: bytes, section: Section) -> list[ImportEntry]:
    """Every import an import section declares, compact groups expanded (memories may have custom page sizes)."""
    try:
        found = _read_import_section(data, section, custom_pages=True)
    except IndexError:
        raise DecodeError("truncated section") from None
    return [ImportEntry(module, name, EXPORT_KINDS[kind], type_index, valtype)
            for module, name, (kind, _memory, type_index, valtype) in found]


def read_import_signatures(data: bytes, sections: Sequence[Section]) -> list[tuple[ImportEntry, Signature | None]]:
    """Every import with its function's signature (``None`` for other kinds, or a type index out of range)."""
    type_section, import_section = find_section(sections, SECTION_TYPE), find_section(sections, SECTION_IMPORT)
    if import_section is None:
        return []
    types = read_types(data, type_section) if type_section is not None else []
    return [(entry, types[entry.type_index] if entry.type_index is not None and entry.type_index < len(types)
             else None) for entry in read_imports(data, import_section)]


def read_functions(data: bytes, section: Section) -> list[int]:
    """The type index of every function a function section defines."""
    count, pos = read_u(data, section.payload_start)
    func_types = []
    for _ in range(count):
        type_index, pos = read_u(data, pos)
        func_types.append(type_index)
    if pos != section.end:
        raise DecodeError("function section size mismatch")
    return func_types


def read_exports(data: bytes, section: Section) -> list[Export]:
    """Every export an export section declares, in order."""
    try:
        count, pos = read_u(data, section.payload_start)
        exports = []
        for _ in range(count):
            name, pos = _read_name(data, pos)
            kind = EXPORT_KINDS.get(data[pos])
            if kind is None:
                raise DecodeError(f"unknown export kind 0x{data[pos]:02x}")
            index, pos = read_u(data, pos + 1)
            exports.append(Export(name, kind, index))
    except IndexError:
        raise DecodeError("truncated section") from None
    if pos != section.end:
        raise DecodeError("export section size mismatch")
    return exports


# The instructions a global's initialiser may hold (extended-const adds add/sub/mul).
_CONST_LEB = frozenset([0x41, 0x42, 0x23, 0xD0, 0xD2])  # i32/i64.const, global.get, ref.null, ref.func
_CONST_ARITHMETIC = frozenset([0x6A, 0x6B, 0x6C, 0x7C, 0x7D, 0x7E])
_END = 0x0B


def skip_const_expr(data: bytes, pos: int) -> int:
    """The position after the constant expression (up to and including its ``end``) at ``pos``."""
    while True:
        try:
            opcode = data[pos]
        except IndexError:
            raise DecodeError(f"truncated constant expression at offset {pos}") from None
        pos += 1
        if opcode == _END:
            return pos
        if opcode in _CONST_LEB:
            pos = skip_leb(data, pos)
        elif opcode == 0x43:  # f32.const
            pos += 4
        elif opcode == 0x44:  # f64.const
            pos += 8
        elif opcode == 0xFD:  # v128.const
            pos = skip_leb(data, pos) + 16
        elif opcode not in _CONST_ARITHMETIC:
            raise DecodeError(f"constant-expression opcode 0x{opcode:02x} is not one this reader knows")


def read_globals(data: bytes, section: Section) -> list[str]:
    """The value type of every global a global section defines."""
    try:
        count, pos = read_u(data, section.payload_start)
        globals_ = []
        for _ in range(count):
            valtype, pos = read_valtype(data, pos)
            globals_.append(valtype)
            pos = skip_const_expr(data, pos + 1)  # after the mutability
    except IndexError:
        raise DecodeError("truncated section") from None
    if pos != section.end:
        raise DecodeError("global section size mismatch")
    return globals_


def read_layout(data: bytes) -> ModuleLayout:
    """Decode a module's layout: sections, types, function signatures, memories, exports."""
    sections = read_sections(data)
    types: list[Signature | None] = []
    func_types: list[int] = []
    imported_funcs = 0
    memories: list[MemoryInfo] = []
    own_memories: list[MemoryInfo] = []
    exports: list[Export] = []
    try:
        for section in sections:
            if section.id == SECTION_TYPE:
                types = read_types(data, section)
            elif section.id == SECTION_IMPORT:
                for _module, _name, (_kind, memory, type_index, _valtype) in _read_import_section(
                    data, section, custom_pages=False
                ):
                    if type_index is not None:
                        func_types.append(type_index)
                        imported_funcs += 1
                    if memory is not None:
                        memories.append(memory)
            elif section.id == SECTION_FUNCTION:
                func_types.extend(read_functions(data, section))
            elif section.id == SECTION_MEMORY:
                count, pos = read_u(data, section.payload_start)
                for _ in range(count):
                    memory, pos = _read_limits(data, pos, imported=False)
                    own_memories.append(memory)
                if pos != section.end:
                    raise DecodeError("memory section size mismatch")
            elif section.id == SECTION_EXPORT:
                exports.extend(read_exports(data, section))
    except IndexError:
        raise DecodeError("truncated section") from None
    return ModuleLayout(
        sections, tuple(types), tuple(func_types), imported_funcs, (*memories, *own_memories), tuple(exports)
    )


def read_bodies(data: bytes, section: Section, exact: bool = True) -> list[tuple[int, int]]:
    """Where each function body of code section ``section`` lies: ``(start, end)``, ``start`` just after its size.

    With ``exact`` (the rule of the format) the last body must end where the section does; without it, bytes
    after the last body are left alone (the validation differential edits mutants that carry them).
    """
    count, pos = read_u(data, section.payload_start)
    bodies = []
    for _ in range(count):
        size, start = read_u(data, pos)
        pos = start + size
        if pos > section.end:
            raise DecodeError("function body runs past the code section")
        bodies.append((start, pos))
    if exact and pos != section.end:
        raise DecodeError("code section size mismatch")
    return bodies


def custom_sections(data: bytes) -> dict[str, bytes]:
    """The payload of every custom section by name (the first of each name), without the name."""
    found: dict[str, bytes] = {}
    for section in read_sections(data):
        if section.id == SECTION_CUSTOM:
            length, pos = read_u(data, section.payload_start)
            name = data[pos : pos + length].decode("utf-8", "replace")
            found.setdefault(name, data[pos + length : section.end])
    return found


def section_bytes(section_id: int, payload: bytes) -> bytes:
    """A whole section: id, size and payload."""
    return bytes([section_id]) + encode_u(len(payload)) + payload
