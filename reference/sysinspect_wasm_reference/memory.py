"""Guest linear memory as host functions see it: every access checked against its size.

pywasm's own ``MemInst.put`` silently extends the memory when a host function
writes past its end, and its ``get`` fails with an unrelated error; WASI and
host functions only use these accessors, so a guest handing them a bad
pointer is stopped with ``out-of-bounds memory`` (wasmtime: "pointer out of
bounds"). The interpreter's own loads and stores keep pywasm's checks.
"""

from __future__ import annotations

import struct
from typing import Any

from sysinspect_wasm.traps import TrapKind

from .loader import ENGINE
from .signals import HostTrap

MemInst: Any = ENGINE.core.MemInst
Store: Any = ENGINE.core.Store


class CheckedMemory(MemInst):  # type: ignore[misc]
    """A linear memory whose host-side accessors refuse addresses outside it.

    pywasm's own ``put`` would silently extend the memory and its ``get``
    would fail with an unrelated error; WASI functions only use these.
    """

    def _check(self, addr: int, size: int) -> None:
        if addr < 0 or addr + size > len(self.data):
            raise HostTrap(TrapKind.OUT_OF_BOUNDS, f"pointer out of bounds: {size} bytes at {addr}")

    def get(self, addr: int, size: int) -> bytearray:
        """``size`` bytes at ``addr``."""
        self._check(addr, size)
        return bytearray(self.data[addr:addr + size])

    def put(self, addr: int, data: bytes | bytearray) -> None:
        """Store ``data`` at ``addr``."""
        self._check(addr, len(data))
        self.data[addr:addr + len(data)] = data

    def _unpack(self, fmt: str, addr: int) -> int:
        size = struct.calcsize(fmt)
        self._check(addr, size)
        value: int = struct.unpack_from(fmt, self.data, addr)[0]
        return value

    def _pack(self, fmt: str, addr: int, value: int) -> None:
        self._check(addr, struct.calcsize(fmt))
        struct.pack_into(fmt, self.data, addr, value)

    def get_i32(self, addr: int) -> int:
        """Read a 32-bit little-endian signed integer at ``addr``."""
        return self._unpack("<i", addr)

    def get_i64(self, addr: int) -> int:
        """Read a 64-bit little-endian signed integer at ``addr``."""
        return self._unpack("<q", addr)

    def get_u8(self, addr: int) -> int:
        """Read an 8-bit little-endian unsigned integer at ``addr``."""
        return self._unpack("<B", addr)

    def get_u16(self, addr: int) -> int:
        """Read a 16-bit little-endian unsigned integer at ``addr``."""
        return self._unpack("<H", addr)

    def get_u32(self, addr: int) -> int:
        """Read a 32-bit little-endian unsigned integer at ``addr``."""
        return self._unpack("<I", addr)

    def get_u64(self, addr: int) -> int:
        """Read a 64-bit little-endian unsigned integer at ``addr``."""
        return self._unpack("<Q", addr)

    def put_i32(self, addr: int, data: int) -> None:
        """Write a 32-bit little-endian signed integer at ``addr``."""
        self._pack("<i", addr, data)

    def put_i64(self, addr: int, data: int) -> None:
        """Write a 64-bit little-endian signed integer at ``addr``."""
        self._pack("<q", addr, data)

    def put_u8(self, addr: int, data: int) -> None:
        """Write an 8-bit little-endian unsigned integer at ``addr``."""
        self._pack("<B", addr, data)

    def put_u16(self, addr: int, data: int) -> None:
        """Write a 16-bit little-endian unsigned integer at ``addr``."""
        self._pack("<H", addr, data)

    def put_u32(self, addr: int, data: int) -> None:
        """Write a 32-bit little-endian unsigned integer at ``addr``."""
        self._pack("<I", addr, data)

    def put_u64(self, addr: int, data: int) -> None:
        """Write a 64-bit little-endian unsigned integer at ``addr``."""
        self._pack("<Q", addr, data)



class CheckedStore(Store):  # type: ignore[misc]
    """A pywasm store whose memories are :class:`CheckedMemory`, and whose data segments are copies.

    pywasm's store keeps the parsed module's own segment bytes, and ``data.drop``
    (which every active segment gets after initialisation) clears them: a
    module parsed once and run twice would start the second time with no
    data. Each instance gets its own copy.
    """

    def allocate_data(self, data: bytearray) -> int:
        """Allocate a data segment holding a copy of ``data``; return its address."""
        self.data.append(ENGINE.core.DataInst(bytearray(data)))
        return len(self.data) - 1

    def allocate_memory(self, type: Any) -> int:
        """Allocate a memory of memory type ``type``; return its address."""
        self.mems.append(CheckedMemory(type))
        return len(self.mems) - 1
