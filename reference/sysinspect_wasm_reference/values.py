"""Converting between our :class:`~sysinspect_wasm.result.Value` and pywasm's ``ValInst``.

pywasm keeps every value as 16 little-endian bytes; we convert bits to bytes
and back directly, never through Python floats, so NaN payloads survive.
"""

from __future__ import annotations

from typing import Any

from sysinspect_wasm.result import Value

from .loader import ENGINE

TYPE_NAMES: dict[int, str] = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x7B: "v128", 0x70: "funcref", 0x6F: "externref"}
TYPE_CODES: dict[str, int] = {name: code for code, name in TYPE_NAMES.items()}
WIDTHS: dict[str, int] = {"i32": 4, "i64": 8, "f32": 4, "f64": 8, "v128": 16}
REFERENCE_TYPES = ("funcref", "externref")
_SLOT = 16
_REF_PRESENT = 4  # pywasm's reference values: index in bytes 0-3, byte 4 is 1 when non-null


def type_name(val_type: Any) -> str:
    """Our name for a pywasm ``ValType``."""
    return TYPE_NAMES[val_type.data]


def to_pywasm(value: Value) -> Any:
    """A pywasm ``ValInst`` with exactly ``value``'s bits (references: only null can be passed in)."""
    core = ENGINE.core
    val_type = core.ValType(TYPE_CODES[value.type])
    if value.type in REFERENCE_TYPES:
        inst = core.ValInst.zero(val_type)
        if value.bits and (value.type != "externref" or value.bits >> 32):
            raise ValueError(f"{value.type} {value.bits:#x} cannot be passed to a guest (only null, or an externref "
                             "below 2**32)")
        if value.bits:
            # our externref bits stand where pywasm keeps a reference's index; the guest only moves it around
            inst.data[:_REF_PRESENT] = value.bits.to_bytes(_REF_PRESENT, "little")
            inst.data[_REF_PRESENT] = 1
        return inst
    width = WIDTHS[value.type]
    if not 0 <= value.bits < 1 << (8 * width):
        raise ValueError(f"{value.bits:#x} does not fit in {value.type}")
    return core.ValInst(val_type, bytearray(value.bits.to_bytes(width, "little")) + bytearray(_SLOT - width))


def from_pywasm(inst: Any) -> Value:
    """Our ``Value`` for a pywasm ``ValInst``, bit for bit."""
    name = type_name(inst.type)
    if name in REFERENCE_TYPES:
        if not inst.data[_REF_PRESENT]:
            return Value(name, 0)
        return Value(name, int.from_bytes(bytes(inst.data[:_REF_PRESENT]), "little") if name == "externref" else 1)
    return Value(name, int.from_bytes(bytes(inst.data[: WIDTHS[name]]), "little"))
