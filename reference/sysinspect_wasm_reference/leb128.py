"""Strict LEB128 readers for pywasm's binary parser (FINDINGS.md F12).

pywasm 2.2.3 reads every LEB128 number byte after byte until one has no
continuation bit, whatever its length or value: an over-long encoding
("integer representation too long") or one whose unused bits are not zero
("integer too large") is taken. The spec (5.2.2) bounds an N-bit number to
ceil(N / 7) bytes and requires the unused bits of the last one to be zero
(unsigned) or the sign's copies (signed). The loader points pywasm's parser
at these readers: every unsigned number of the 2.0 binary format is a u32;
the signed ones are i32.const (s32), i64.const (s64) and block types (s33).
They return what pywasm's readers return: ``(value, bytes read)``.
"""

from __future__ import annotations

import io

from .signals import CheckFailed


def _read(reader: io.BufferedIOBase, bits: int, signed: bool) -> tuple[int, int]:
    most = -(-bits // 7)
    result = 0
    for count in range(1, most + 1):
        byte = reader.read(1)
        if len(byte) != 1:
            raise EOFError("unexpected end of section or function (in a LEB128 number)")
        value = byte[0]
        result |= (value & 0x7F) << (7 * (count - 1))
        last = not value & 0x80
        if count == most:
            if not last:
                raise CheckFailed("integer representation too long")
            used = bits - 7 * (count - 1)  # the bits of the last byte that belong to the number
            rest = (value & 0x7F) >> (used - 1 if signed else used)
            if rest not in ((0, (0x7F >> (used - 1))) if signed else (0,)):
                raise CheckFailed("integer too large")
        if last:
            if signed and value & 0x40:
                result -= 1 << (7 * count)
            return result, count
    raise AssertionError("unreachable: the loop returns or raises by its last byte")


def read_u32(reader: io.BufferedIOBase) -> tuple[int, int]:
    """An unsigned 32-bit LEB128 number."""
    return _read(reader, 32, signed=False)


def read_s32(reader: io.BufferedIOBase) -> tuple[int, int]:
    """A signed 32-bit LEB128 number (i32.const)."""
    return _read(reader, 32, signed=True)


def read_s33(reader: io.BufferedIOBase) -> tuple[int, int]:
    """A signed 33-bit LEB128 number (a block type's type index)."""
    return _read(reader, 33, signed=True)


def read_s64(reader: io.BufferedIOBase) -> tuple[int, int]:
    """A signed 64-bit LEB128 number (i64.const)."""
    return _read(reader, 64, signed=True)
