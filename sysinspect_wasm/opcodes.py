"""Walking WebAssembly function bodies instruction by instruction.

Two users: the pywasm backend finds the byte offset of the instruction a trapped
frame was executing (pywasm keeps no offsets), and the wasmtime backend's
memory.grow rewriter has to find every ``memory.grow`` in the code section, and the
only sound way is to decode every instruction with its immediates: the byte
0x40 also appears as the empty block type, inside LEB128 numbers and in
constants. Two decoders cooperate:

* :func:`skip_instruction`, a complete table-driven decoder of one
  instruction (MVP, sign extension, saturating truncation, bulk memory,
  reference types, multi-value block types, tail calls, SIMD and relaxed
  SIMD, multi-memory and memory64 memargs, threads, exception handling,
  typed function references, GC, wide arithmetic);
* :data:`FAST_RUN`, a regular expression that skips a whole run of the
  common instructions in C. It only recognises canonical encodings and stops
  at anything else (``memory.grow``, ``br_table``, typed ``select``,
  ``try_table``, GC, unusual LEB128 forms), which the Python decoder then
  handles. Without it a 4 MB Go module takes seconds to walk.

Both are tested against each other and against wasm-tools on generated
modules.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .wasmbinary import DecodeError, read_u, skip_leb, skip_valtype

MEMORY_GROW = 0x40

# -- the complete decoder -----------------------------------------------------

Skipper = Callable[[bytes, int], int]


def _none(data: bytes, pos: int) -> int:
    return pos


def _leb(data: bytes, pos: int) -> int:
    return skip_leb(data, pos)


def _leb2(data: bytes, pos: int) -> int:
    return skip_leb(data, skip_leb(data, pos))


def _leb3(data: bytes, pos: int) -> int:
    return skip_leb(data, skip_leb(data, skip_leb(data, pos)))


def _byte(data: bytes, pos: int) -> int:
    return pos + 1


def _bytes(n: int) -> Skipper:
    def skip(data: bytes, pos: int) -> int:
        return pos + n

    return skip


def _blocktype(data: bytes, pos: int) -> int:
    # 0x40 (empty), a value type (possibly a full reference type) or an s33 type index
    if data[pos] in (0x63, 0x64):
        return skip_leb(data, pos + 1)
    return skip_leb(data, pos)


def _memarg(data: bytes, pos: int) -> int:
    flags, pos = read_u(data, pos)
    if flags & 0x40:  # multi-memory: an explicit memory index follows
        pos = skip_leb(data, pos)
    return skip_leb(data, pos)  # offset (u64 for memory64)


def _memarg_lane(data: bytes, pos: int) -> int:
    return _memarg(data, pos) + 1


def _br_table(data: bytes, pos: int) -> int:
    count, pos = read_u(data, pos)
    for _ in range(count + 1):  # the targets and the default
        pos = skip_leb(data, pos)
    return pos


def _select_typed(data: bytes, pos: int) -> int:
    count, pos = read_u(data, pos)
    for _ in range(count):
        pos = skip_valtype(data, pos)
    return pos


def _try_table(data: bytes, pos: int) -> int:
    pos = _blocktype(data, pos)
    count, pos = read_u(data, pos)
    for _ in range(count):
        kind = data[pos]
        pos += 1
        if kind in (0x00, 0x01):  # catch / catch_ref: tag, label
            pos = _leb2(data, pos)
        elif kind in (0x02, 0x03):  # catch_all / catch_all_ref: label
            pos = skip_leb(data, pos)
        else:
            raise DecodeError(f"unknown catch clause 0x{kind:02x} at offset {pos - 1}")
    return pos


def _br_on_cast(data: bytes, pos: int) -> int:
    return _leb3(data, pos + 1)  # cast flags byte, label, two heap types


_SINGLE: dict[int, Skipper] = {}
for _op in (0x00, 0x01, 0x05, 0x0A, 0x0B, 0x0F, 0x19, 0x1A, 0x1B, 0xD1, 0xD3, 0xD4, *range(0x45, 0xC5)):
    _SINGLE[_op] = _none
for _op in (0x02, 0x03, 0x04, 0x06):  # block, loop, if, try (legacy exceptions)
    _SINGLE[_op] = _blocktype
for _op in (0x07, 0x08, 0x09, 0x0C, 0x0D, 0x10, 0x12, 0x14, 0x15, 0x18, *range(0x20, 0x27),
            0x3F, MEMORY_GROW, 0x41, 0x42, 0xD0, 0xD2, 0xD5, 0xD6):
    _SINGLE[_op] = _leb
for _op in (0x11, 0x13):  # call_indirect, return_call_indirect: type, table
    _SINGLE[_op] = _leb2
for _op in range(0x28, 0x3F):  # loads and stores
    _SINGLE[_op] = _memarg
_SINGLE[0x0E] = _br_table
_SINGLE[0x1C] = _select_typed
_SINGLE[0x1F] = _try_table
_SINGLE[0x43] = _bytes(4)  # f32.const
_SINGLE[0x44] = _bytes(8)  # f64.const

# 0xFC: saturating truncation, bulk memory, reference-type tables, wide arithmetic
_PREFIX_FC: dict[int, Skipper] = {op: _none for op in (*range(0, 8), 19, 20, 21, 22)}
_PREFIX_FC.update({8: _leb2, 9: _leb, 10: _leb2, 11: _leb, 12: _leb2, 13: _leb, 14: _leb2, 15: _leb, 16: _leb, 17: _leb})

# 0xFD: SIMD (0-255) and relaxed SIMD (256-275)
_PREFIX_FD: dict[int, Skipper] = {op: _none for op in range(0, 276)}
_PREFIX_FD.update({op: _memarg for op in (*range(0, 12), 92, 93)})
_PREFIX_FD.update({op: _memarg_lane for op in range(84, 92)})
_PREFIX_FD.update({12: _bytes(16), 13: _bytes(16)})  # v128.const, i8x16.shuffle
_PREFIX_FD.update({op: _byte for op in range(21, 35)})  # extract / replace lane

# 0xFE: threads (atomics)
_PREFIX_FE: dict[int, Skipper] = {op: _memarg for op in (0, 1, 2, *range(0x10, 0x4F))}
_PREFIX_FE[3] = _byte  # atomic.fence: a reserved zero byte

# 0xFB: GC
_PREFIX_FB: dict[int, Skipper] = {
    0: _leb, 1: _leb, 2: _leb2, 3: _leb2, 4: _leb2, 5: _leb2, 6: _leb, 7: _leb, 8: _leb2, 9: _leb2,
    10: _leb2, 11: _leb, 12: _leb, 13: _leb, 14: _leb, 15: _none, 16: _leb, 17: _leb2, 18: _leb2,
    19: _leb2, 20: _leb, 21: _leb, 22: _leb, 23: _leb, 24: _br_on_cast, 25: _br_on_cast,
    26: _none, 27: _none, 28: _none, 29: _none, 30: _none,
}

_PREFIXED: dict[int, dict[int, Skipper]] = {0xFB: _PREFIX_FB, 0xFC: _PREFIX_FC, 0xFD: _PREFIX_FD, 0xFE: _PREFIX_FE}


def skip_instruction(data: bytes, pos: int) -> int:
    """The position after the instruction at ``pos``; raises DecodeError for unknown opcodes."""
    try:
        op = data[pos]
        skipper = _SINGLE.get(op)
        if skipper is not None:
            return skipper(data, pos + 1)
        table = _PREFIXED.get(op)
        if table is None:
            raise DecodeError(f"unknown opcode 0x{op:02x} at offset {pos}")
        sub, after = read_u(data, pos + 1)
        skipper = table.get(sub)
        if skipper is None:
            raise DecodeError(f"unknown opcode 0x{op:02x} {sub} at offset {pos}")
        return skipper(data, after)
    except IndexError:
        raise DecodeError(f"truncated instruction at offset {pos}") from None


# -- the fast path ------------------------------------------------------------


def _cls(*ops: int | range) -> bytes:
    """A regex character class (bytes) matching the given byte values."""
    values: list[int] = []
    for op in ops:
        values.extend(op if isinstance(op, range) else (op,))
    return b"[" + b"".join(b"\\x%02x" % v for v in sorted(set(values))) + b"]"


_LEB = rb"[\x80-\xff]*+[\x00-\x7f]"
# A memarg: the alignment's bit 6 says whether a memory index follows. That bit
# sits in the first byte of the alignment LEB128, so it can be told by a class.
_MEMARG = (
    rb"(?:[\x00-\x3f]|[\x80-\xbf]" + _LEB + rb"|[\x40-\x7f]" + _LEB + rb"|[\xc0-\xff]" + _LEB + _LEB + rb")" + _LEB
)
_ANY = rb"[\x00-\xff]"
# Sub-opcodes after a prefix byte: single-byte values are listed exactly; the
# fast path accepts longer forms only when canonical (no redundant zero byte)
# and without immediates, and leaves everything else to skip_instruction.
_TWO_BYTE_PLAIN = rb"[\x80-\xff][\x01-\x7f]"

_FAST_TOKEN = b"|".join(
    (
        _cls(0x0C, 0x0D, 0x10, 0x12, 0x14, 0x15, range(0x20, 0x27), 0x3F, 0x41, 0x42, 0xD0, 0xD2, 0xD5, 0xD6,
             0x07, 0x08, 0x09, 0x18) + _LEB,
        _cls(0x00, 0x01, 0x05, 0x0A, 0x0B, 0x0F, 0x19, 0x1A, 0x1B, range(0x45, 0xC5), 0xD1, 0xD3, 0xD4),
        _cls(range(0x28, 0x3F)) + _MEMARG,
        _cls(0x02, 0x03, 0x04, 0x06) + rb"[\x63\x64]?+" + _LEB,
        _cls(0x11, 0x13) + _LEB + _LEB,
        rb"\x43" + _ANY + b"{4}",
        rb"\x44" + _ANY + b"{8}",
        rb"\xfc(?:" + _cls(range(0, 8), range(19, 23)) + b"|" + _cls(9, 11, 13, 15, 16, 17) + _LEB
        + b"|" + _cls(8, 10, 12, 14) + _LEB + _LEB + b")",
        rb"\xfd(?:" + _cls(range(0, 12), 92, 93) + _MEMARG
        + b"|" + _cls(range(84, 92)) + _MEMARG + _ANY
        + b"|" + _cls(12, 13) + _ANY + b"{16}"
        + b"|" + _cls(range(21, 35)) + _ANY
        + b"|" + _cls(range(14, 21), range(35, 84), range(94, 128))
        + b"|" + _TWO_BYTE_PLAIN + b")",
        rb"\xfe(?:" + _cls(0, 1, 2, range(0x10, 0x4F)) + _MEMARG + rb"|\x03\x00)",
    )
)

FAST_RUN = re.compile(b"(?:" + _FAST_TOKEN + b")*+")
"""Matches the longest run of instructions the fast path understands."""


def find_memory_grows(data: bytes, pos: int, end: int, *, fast: bool = True) -> list[tuple[int, int, int]]:
    """Every ``memory.grow`` in the instruction sequence ``data[pos:end]``.

    Returns (offset of the opcode, offset after the instruction, memory index)
    for each; raises DecodeError when the sequence does not decode to exactly
    ``end``.
    """
    grows: list[tuple[int, int, int]] = []
    match = FAST_RUN.match
    while pos < end:
        if fast:
            run = match(data, pos, end)
            if run is not None:
                pos = run.end()
            if pos >= end:
                break
        if data[pos] == MEMORY_GROW:
            memory, after = read_u(data, pos + 1)
            grows.append((pos, after, memory))
            pos = after
        else:
            pos = skip_instruction(data, pos)
    if pos != end:
        raise DecodeError(f"instruction runs past the end of its function body at offset {end}")
    return grows
