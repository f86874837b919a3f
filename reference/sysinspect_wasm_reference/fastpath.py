"""The helpers the loader's speed rewrites put in place of pywasm's value constructors and accessors.

pywasm builds every value as ``ValInst(ValType.i32(), bytes + padding)``: a
new ``ValType`` (whose constructor checks its code against a list), a
``ValInst`` whose constructor checks the length, and ``struct.unpack`` of a
fresh slice to read it back. The functions here give the very same objects
(same class, same type code, the same 16 bytes) and the same exceptions for
the same inputs, without the detours:

- the value types are shared instances: pywasm never changes a ``ValType``
  after creating it, and compares them by their code (``__eq__``), never by
  identity;
- ``from_i32(n)`` and its kin pack with ``int.to_bytes`` exactly as
  ``pywasm.arith``'s ``into_bytearray`` does, so an out-of-range ``n`` raises
  the same ``OverflowError``; the most frequent small values are built once
  and shared, as pywasm itself shares values between locals, globals and the
  stack (it never changes a value in place, except the fresh value of
  ``f32.const`` and ``f64.const``, which get :data:`FRESH_PREFIX` ones);
- the ``unpack_*`` functions read the first bytes in place with a
  precompiled :class:`struct.Struct` instead of slicing first.

:func:`helpers` binds them to the rewritten interpreter's own classes.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

SLOT = 16
"""Bytes in every pywasm value (``ValInst.blen``)."""

TYPE_CODES = {"i32": 0x7F, "i64": 0x7E, "f32": 0x7D, "f64": 0x7C, "v128": 0x7B, "ref_func": 0x70, "ref_extern": 0x6F}
"""The value types whose ``ValType.<name>()`` calls become shared instances."""

# ValInst.from_<name> -> (byte width, signed): pywasm.arith's i32/i64/u32/u64 ``into_bytearray``
PACKED = {"i32": (4, True), "i64": (8, True), "u32": (4, False), "u64": (8, False)}
FROM_TYPES = {"i32": "i32", "i64": "i64", "u32": "i32", "u64": "i64"}

# ValInst.into_<name> -> struct code, as pywasm's own ``struct.unpack('<code', data[0:width])``
UNPACKED = {"i32": "<i", "i64": "<q", "u32": "<I", "u64": "<Q", "f32": "<f", "f64": "<d"}

TYPE_PREFIX = "_sysinspect_type_"
FROM_PREFIX = "_sysinspect_from_"
FRESH_PREFIX = "_sysinspect_fresh_"
FRESH_CASES = ("f32_const", "f64_const")
"""The cases that change the value they construct (its type): they get a value of their own, never a shared one."""
UNPACK_PREFIX = "_sysinspect_unpack_"
BLOCK_PREFIX = "_sysinspect_block_"
NEW_NAME = "_sysinspect_new"
CONSTANTS_PREFIX = "_sysinspect_constants_"
CONSTANTS_LIMIT = 1 << 16
"""Distinct ``i32.const`` (and ``i64.const``) values kept per process; past that, new ones are built each time."""


SHARED_VALUES = range(-1, 17)
"""Values built once and shared by :func:`helpers`' constructors: comparisons give 0 and 1 (``True``, ``False``,
which hash and pack as 1 and 0), ``memory.grow`` -1, small counters the rest."""


def _constructor(val_inst: type, val_type: Any, width: int, signed: bool, share: bool) -> Callable[[int], Any]:
    padding = bytes(SLOT - width)
    new = object.__new__

    def construct(n: int) -> Any:
        value: Any = new(val_inst)
        value.type = val_type
        value.data = bytearray(n.to_bytes(width, "little", signed=signed) + padding)
        return value

    if not share:
        return construct
    shared = {n: construct(n) for n in SHARED_VALUES if signed or n >= 0}
    lookup = shared.get

    def construct_shared(n: int) -> Any:
        value = lookup(n)
        return construct(n) if value is None else value

    return construct_shared


def helpers(val_inst: type, val_type: Callable[[int], Any], func_type: Callable[..., Any]) -> dict[str, Any]:
    """The names the rewritten interpreter calls, bound to its own ``ValInst``, ``ValType`` and ``FuncType``."""
    types = {name: val_type(code) for name, code in TYPE_CODES.items()}
    names: dict[str, Any] = {TYPE_PREFIX + name: value for name, value in types.items()}
    names[NEW_NAME] = object.__new__
    names[CONSTANTS_PREFIX + "i32"] = {}
    names[CONSTANTS_PREFIX + "i64"] = {}
    names[BLOCK_PREFIX + "empty"] = func_type([], [])
    names[BLOCK_PREFIX + "result"] = {code: func_type([], [val_type(code)]) for code in TYPE_CODES.values()}
    for name, (width, signed) in PACKED.items():
        names[FROM_PREFIX + name] = _constructor(val_inst, types[FROM_TYPES[name]], width, signed, share=True)
        names[FRESH_PREFIX + name] = _constructor(val_inst, types[FROM_TYPES[name]], width, signed, share=False)
    for name, code in UNPACKED.items():
        names[UNPACK_PREFIX + name] = struct.Struct(code).unpack_from
    return names
