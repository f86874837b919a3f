"""The memory.grow rewriter: make a grow refused by the memory ceiling stop the guest.

Store limits alone make ``memory.grow`` return -1 at the ceiling and let the
guest go on, and wasmtime's C API has no switch to trap instead. So before
compiling, every ``memory.grow m`` in the code section is replaced by
``call $guard_m``, one guard function per memory index used, appended at the
end of the function index space (no existing index shifts) with its type
appended at the end of the type section. A guard grows the memory and, when
that returned -1 although the module's own declared maximum (or the index
type's limit) allowed the growth, executes ``unreachable``. Only the store
limit can refuse such a grow, so the backend classifies an ``unreachable``
trap whose innermost frame is a guard as ``memory limit``.

A ``memory.grow`` of an *imported* memory is left alone: the import's
declared maximum is only a bound the real memory must meet, which may have a
smaller one (the spec test suite's ``imports.wast`` imports a memory of
maximum 2 as ``(memory 0 3)``), so a guard could not tell a grow refused by
the memory's own maximum from one refused by the ceiling and would stop a
guest the spec lets go on. Such a grow at the ceiling returns -1 (store limits
still hold it); the exporting module's own grows are guarded. A WASI command
imports no memory, so every grow of a command is guarded.

A module the decoder does not understand is never broken: :func:`instrument`
then returns it unchanged with a note, and the guest runs with store limits
only (a grow past the ceiling returns -1 instead of stopping the guest).
"""

from __future__ import annotations

from dataclasses import dataclass

from sysinspect_wasm.opcodes import find_memory_grows
from sysinspect_wasm.wasmbinary import (
    SECTION_CODE,
    SECTION_FUNCTION,
    SECTION_TYPE,
    DecodeError,
    MemoryInfo,
    ModuleLayout,
    code_start,
    encode_s,
    encode_u,
    read_layout,
    read_u,
    section_bytes,
)

from .versions import INSTRUMENT_VERSION

__all__ = ["INSTRUMENT_VERSION", "Instrumented", "instrument"]

_I32 = 0x7F
_I64 = 0x7E
_CALL = 0x10
# Custom sections whose contents are code offsets, which the rewrite shifts;
# they are only hints, so they are dropped rather than left wrong.
_OFFSET_METADATA_PREFIX = b"metadata.code."


@dataclass(frozen=True)
class Instrumented:
    """The bytes to compile and what the backend must know about them.

    ``guards`` holds the function indices of the appended guards (empty when
    nothing was rewritten); ``layout`` describes the original module (the
    rewrite only appends, so its indices and signatures hold for the result
    too; ``None`` when it could not be read); ``note`` says why the module
    runs uninstrumented, if it does.
    """

    wasm: bytes
    guards: frozenset[int] = frozenset()
    layout: ModuleLayout | None = None
    note: str = ""

    @property
    def instrumented(self) -> bool:
        """True when memory.grow past the ceiling stops the guest."""
        return not self.note

    @property
    def initial_pages(self) -> int | None:
        """The largest initial size of the module's own memories (``None``: unknown)."""
        return None if self.layout is None else self.layout.initial_pages


def instrument(wasm: bytes, *, fast: bool = True) -> Instrumented:
    """Rewrite ``wasm`` so a grow refused by the ceiling traps; never raises.

    The input is expected to be a valid module (the caller compiles the
    result, which validates it); anything the decoder cannot follow gives the
    module back unchanged with a note.
    """
    try:
        layout = read_layout(wasm)
    except (DecodeError, IndexError) as exc:
        return Instrumented(wasm, note=f"module layout not understood ({exc})")
    try:
        rewritten, guards = _rewrite(wasm, layout, fast=fast)
    except (DecodeError, IndexError) as exc:
        return Instrumented(wasm, layout=layout, note=f"code not understood ({exc})")
    return Instrumented(rewritten, guards, layout)


def _guard_body(memory: int, info: MemoryInfo) -> bytes:
    """The guard for ``memory``: (param $n) (result) (local $r) of the memory's index type.

    ``$r = memory.grow($n)``; if ``$r == -1`` and ``$n <= max - memory.size``
    (unsigned, in i64) then ``unreachable``; return ``$r``.
    """
    mem = encode_u(memory)
    widen = b"" if info.is_64 else b"\xad"  # i64.extend_i32_u
    minus_one = b"\x42\x7f" if info.is_64 else b"\x41\x7f"  # i64/i32.const -1
    equal = b"\x51" if info.is_64 else b"\x46"  # i64.eq / i32.eq
    code = b"".join(
        (
            b"\x20\x00\x40", mem, b"\x22\x01",  # local.get $n; memory.grow; local.tee $r
            minus_one, equal, b"\x04\x40",  # if (grow failed)
            b"\x20\x00", widen,  # $n as i64
            b"\x42", encode_s(info.max_pages),  # declared max
            b"\x3f", mem, widen,  # memory.size as i64
            b"\x7d\x58",  # i64.sub; i64.le_u
            b"\x04\x40\x00\x0b",  # if: unreachable; end
            b"\x0b",  # end
            b"\x20\x01\x0b",  # local.get $r; end
        )
    )
    body = b"\x01\x01" + bytes([_I64 if info.is_64 else _I32]) + code  # one local of the index type
    return encode_u(len(body)) + body


def _rewrite(wasm: bytes, layout: ModuleLayout, *, fast: bool) -> tuple[bytes, frozenset[int]]:
    code = layout.section(SECTION_CODE)
    if code is None:
        return wasm, frozenset()
    count, pos = read_u(wasm, code.payload_start)
    if count != layout.defined_funcs:
        raise DecodeError("function and code section counts differ")

    bodies: list[bytes] = []
    used: dict[int, int] = {}  # memory index -> guard function index
    first_guard = layout.imported_funcs + layout.defined_funcs
    copied_from = pos  # unchanged bodies are copied in runs
    for _ in range(count):
        size, start = read_u(wasm, pos)
        end = start + size
        if end > code.end:
            raise DecodeError("function body runs past the code section")
        cursor = code_start(wasm, start)
        grows = [g for g in find_memory_grows(wasm, cursor, end, fast=fast)
                 if g[2] >= len(layout.memories) or not layout.memories[g[2]].imported]
        if grows:
            bodies.append(wasm[copied_from:pos])
            pieces = []
            last = start
            for at, after, memory in grows:
                if memory >= len(layout.memories):
                    raise DecodeError(f"memory.grow of unknown memory {memory}")
                guard = used.setdefault(memory, first_guard + len(used))
                pieces.append(wasm[last:at])
                pieces.append(bytes([_CALL]) + encode_u(guard))
                last = after
            pieces.append(wasm[last:end])
            new_body = b"".join(pieces)
            bodies.append(encode_u(len(new_body)) + new_body)
            copied_from = end
        pos = end
    if pos != code.end:
        raise DecodeError("code section size mismatch")
    if not used:
        return wasm, frozenset()
    bodies.append(wasm[copied_from:pos])

    # one type per index type in use, appended after the module's own types
    type_index: dict[bool, int] = {}
    for memory in used:
        is_64 = layout.memories[memory].is_64
        type_index.setdefault(is_64, layout.type_count + len(type_index))
    new_types = b"".join(
        b"\x60\x01" + bytes([t]) + b"\x01" + bytes([t])
        for t in (_I64 if is_64 else _I32 for is_64 in type_index)
    )
    guard_types = b"".join(encode_u(type_index[layout.memories[m].is_64]) for m in used)
    guard_bodies = b"".join(_guard_body(m, layout.memories[m]) for m in used)

    out = [wasm[:8]]
    for section in layout.sections:
        raw = wasm[section.start : section.end]
        if section.id == SECTION_TYPE:
            n, body = read_u(wasm, section.payload_start)
            raw = section_bytes(SECTION_TYPE, encode_u(n + len(type_index)) + wasm[body : section.end] + new_types)
        elif section.id == SECTION_FUNCTION:
            n, body = read_u(wasm, section.payload_start)
            raw = section_bytes(SECTION_FUNCTION, encode_u(n + len(used)) + wasm[body : section.end] + guard_types)
        elif section.id == SECTION_CODE:
            raw = section_bytes(SECTION_CODE, encode_u(count + len(used)) + b"".join(bodies) + guard_bodies)
        elif section.id == 0 and _custom_name(wasm, section.payload_start).startswith(_OFFSET_METADATA_PREFIX):
            continue
        out.append(raw)
    return b"".join(out), frozenset(used.values())


def _custom_name(wasm: bytes, pos: int) -> bytes:
    length, pos = read_u(wasm, pos)
    return wasm[pos : pos + length]
