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


def _read(reader: io.BufferedIOBase, bits: int, signed: bool, byte: bytes) -> tuple[int, int]:
    """The number whose first byte, ``byte``, was read already; the rest from ``reader``."""
    most = -(-bits // 7)
    result = 0
    for count in range(1, most + 1):
        if count > 1:
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


# Each reader answers a one-byte number at once (most numbers of a module are: indices, small constants): a
# single byte is in range for every width here, so only longer numbers take the checked loop. Measured on the
# 4.4 MB Go module, this keeps the strict readers as fast as pywasm's own.


def read_u32(reader: io.BufferedIOBase) -> tuple[int, int]:
    """An unsigned 32-bit LEB128 number."""
    byte = reader.read(1)
    if byte and byte[0] < 0x80:
        return byte[0], 1
    return _read(reader, 32, False, byte)


def _read_signed(reader: io.BufferedIOBase, bits: int) -> tuple[int, int]:
    byte = reader.read(1)
    if byte and byte[0] < 0x80:
        value = byte[0]
        return (value - 0x80 if value & 0x40 else value), 1
    return _read(reader, bits, True, byte)


def read_s32(reader: io.BufferedIOBase) -> tuple[int, int]:
    """A signed 32-bit LEB128 number (i32.const)."""
    return _read_signed(reader, 32)


def read_s33(reader: io.BufferedIOBase) -> tuple[int, int]:
    """A signed 33-bit LEB128 number (a block type's type index)."""
    return _read_signed(reader, 33)


def read_s64(reader: io.BufferedIOBase) -> tuple[int, int]:
    """A signed 64-bit LEB128 number (i64.const)."""
    return _read_signed(reader, 64)
