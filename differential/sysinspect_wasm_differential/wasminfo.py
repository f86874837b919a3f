"""Just enough of the binary format to know a module's exports and their types, without any engine.

The differential harness needs this before it lets an engine see a module:
some engine bindings take the whole process down on value types they do not
support (finding F1: wasmtime's C API aborts on ``v128``), and a campaign
must survive any module it generates.
"""

from __future__ import annotations

from dataclasses import dataclass

VALUE_TYPES = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x7B: "v128", 0x70: "funcref", 0x6F: "externref"}
KINDS = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}


class FormatError(ValueError):
    """The bytes are not a module this reader understands."""


@dataclass(frozen=True)
class ExportType:
    """An export's name and kind, and the value types it carries (params and results, or a global's type)."""

    name: str
    kind: str
    params: tuple[str, ...] = ()
    results: tuple[str, ...] = ()


class _Reader:
    def __init__(self, data: bytes, position: int = 0, end: int | None = None) -> None:
        self.data = data
        self.position = position
        self.end = len(data) if end is None else end

    def byte(self) -> int:
        if self.position >= self.end:
            raise FormatError("unexpected end of module")
        value = self.data[self.position]
        self.position += 1
        return value

    def u32(self) -> int:
        result = shift = 0
        while True:
            byte = self.byte()
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7
            if shift > 35:
                raise FormatError("LEB128 number too long")

    def name(self) -> str:
        length = self.u32()
        raw = self.data[self.position:self.position + length]
        self.position += length
        return raw.decode("utf-8", "replace")

    def valtype(self) -> str:
        code = self.byte()
        if code not in VALUE_TYPES:
            raise FormatError(f"value type 0x{code:02x} is not one this reader knows")
        return VALUE_TYPES[code]

    def limits(self) -> None:
        flags = self.byte()
        self.u32()
        if flags & 1:
            self.u32()


def _skip_const_expr(reader: _Reader) -> None:
    # Only what a global initialiser in the shared feature set can hold; extended-const adds add/sub/mul.
    while True:
        opcode = reader.byte()
        if opcode == 0x0B:
            return
        if opcode in (0x41, 0x42, 0x23, 0xD2):
            _skip_leb(reader)
        elif opcode == 0x43:
            reader.position += 4
        elif opcode == 0x44:
            reader.position += 8
        elif opcode == 0xD0:
            reader.byte()
        elif opcode == 0xFD:
            reader.u32()
            reader.position += 16
        elif opcode in (0x6A, 0x6B, 0x6C, 0x7C, 0x7D, 0x7E):
            continue
        else:
            raise FormatError(f"constant-expression opcode 0x{opcode:02x} is not one this reader knows")


def _skip_leb(reader: _Reader) -> None:
    while reader.byte() & 0x80:
        pass


def export_types(wasm: bytes) -> list[ExportType]:
    """Every export of ``wasm`` in order, with the value types it carries.

    Raises :class:`FormatError` for bytes this small reader cannot follow
    (the callers then assume the worst).
    """
    if wasm[:8] != b"\0asm\x01\0\0\0":
        raise FormatError("not a WebAssembly 1.0 module")
    reader = _Reader(wasm, 8)
    signatures: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    functions: list[int] = []
    globals_: list[str] = []
    exports: list[ExportType] = []
    while reader.position < len(wasm):
        section = reader.byte()
        size = reader.u32()
        body = _Reader(wasm, reader.position, reader.position + size)
        reader.position += size
        if section == 1:
            for _ in range(body.u32()):
                if body.byte() != 0x60:
                    raise FormatError("only function types are understood")
                params = tuple(body.valtype() for _ in range(body.u32()))
                results = tuple(body.valtype() for _ in range(body.u32()))
                signatures.append((params, results))
        elif section == 2:
            for _ in range(body.u32()):
                body.name()
                body.name()
                imported = body.byte()
                if imported == 0:
                    functions.append(body.u32())
                elif imported == 1:
                    body.valtype()
                    body.limits()
                elif imported == 2:
                    body.limits()
                elif imported == 3:
                    globals_.append(body.valtype())
                    body.byte()
                else:
                    raise FormatError(f"import kind {imported} is not understood")
        elif section == 3:
            functions.extend(body.u32() for _ in range(body.u32()))
        elif section == 6:
            for _ in range(body.u32()):
                globals_.append(body.valtype())
                body.byte()
                _skip_const_expr(body)
        elif section == 7:
            for _ in range(body.u32()):
                name = body.name()
                kind = KINDS.get(body.byte(), "unknown")
                index = body.u32()
                if kind == "func":
                    params, results = signatures[functions[index]]
                    exports.append(ExportType(name, kind, params, results))
                elif kind == "global":
                    exports.append(ExportType(name, kind, (), (globals_[index],)))
                else:
                    exports.append(ExportType(name, kind))
    return exports


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
