"""Raw WebAssembly values across the wasmtime C API, bit for bit.

wasmtime-py converts f32 results to Python floats through a C ``float`` to
``double`` conversion, which quiets a signalling NaN (sets its quiet bit) and
so loses payload bits. Here values cross as raw bit patterns instead: the
``wasmtime_val_t`` union is written and read through its integer members
(``i32`` for f32, ``i64`` for f64, the byte array for v128), so every NaN
payload survives in both directions. A funcref carries only nullness: a
null one can be passed, and results say null (0) or not (1). An externref
carries its :class:`Value` bits (``1 + n`` for the host's reference ``n``) as
the externref's host data pointer, which wasmtime hands back unchanged.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence

import wasmtime
from wasmtime import _ffi as ffi

from sysinspect_wasm.errors import WasmRuntimeError
from sysinspect_wasm.result import Value

_MASK32 = (1 << 32) - 1
_MASK64 = (1 << 64) - 1

# wasmtime_valkind_t, used in wasmtime_val_t
_I32, _I64, _F32, _F64, _V128, _FUNCREF, _EXTERNREF = 0, 1, 2, 3, 4, 5, 6
_RAW_KINDS = {"i32": _I32, "i64": _I64, "f32": _F32, "f64": _F64, "v128": _V128, "funcref": _FUNCREF, "externref": _EXTERNREF}
_RAW_NAMES = {kind: name for name, kind in _RAW_KINDS.items()}


class UnsupportedValue(ValueError, WasmRuntimeError):
    """A value or type that cannot cross as a raw :class:`Value`."""


_WIDTHS = {"i32": 32, "f32": 32, "i64": 64, "f64": 64, "v128": 128}


def _signed(bits: int, width: int) -> int:
    return bits - (1 << width) if bits >> (width - 1) else bits


def _nothing_to_free(data: int) -> None:
    """An externref's finalizer: its data is the reference's number itself, nothing to free."""


_keep = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(_nothing_to_free)


def to_raw(value: Value, expected: str, store: wasmtime.Store | None = None) -> ffi.wasmtime_val_t:
    """``value`` as a wasmtime_val_t, checked against the ``expected`` type (a non-null externref needs ``store``)."""
    if value.type != expected:
        raise TypeError(f"expected a {expected} argument, not {value.type}")
    width = _WIDTHS.get(expected)
    if width is not None and not 0 <= value.bits < 1 << width:
        raise UnsupportedValue(f"{value.bits:#x} does not fit in {expected}")
    raw = ffi.wasmtime_val_t(kind=ctypes.c_uint8(_RAW_KINDS[expected]))
    if expected in ("i32", "f32"):
        raw.of.i32 = _signed(value.bits, 32)
    elif expected in ("i64", "f64"):
        raw.of.i64 = _signed(value.bits, 64)
    elif expected == "v128":
        ctypes.memmove(ctypes.addressof(raw.of), value.bits.to_bytes(16, "little"), 16)
    elif expected == "externref" and value.bits:
        if store is None or value.bits >> 63:
            raise UnsupportedValue(f"externref {value.bits:#x} cannot be passed in here")
        if not ffi.wasmtime_externref_new(store._context(), value.bits, _keep, ctypes.byref(raw.of.externref)):
            raise wasmtime.WasmtimeError("wasmtime could not create an externref")
    elif value.bits:
        raise UnsupportedValue(f"only null {expected} values can be passed in")
    # a zeroed funcref or externref (store id 0) is null
    return raw


def from_raw(raw: ffi.wasmtime_val_t, store: wasmtime.Store | None = None) -> Value:
    """The raw bits of a wasmtime_val_t (its reference, if any, must be unrooted by the caller).

    Without ``store`` an externref says only whether it is null (0) or not (1).
    """
    name = _RAW_NAMES.get(int(raw.kind))
    if name is None:
        raise UnsupportedValue(f"value kind {raw.kind} has no raw representation here")
    if name in ("i32", "f32"):
        return Value(name, raw.of.i32 & _MASK32)
    if name in ("i64", "f64"):
        return Value(name, raw.of.i64 & _MASK64)
    if name == "v128":
        return Value(name, int.from_bytes(ctypes.string_at(ctypes.addressof(raw.of), 16), "little"))
    store_id = raw.of.funcref.store_id if name == "funcref" else raw.of.externref.store_id
    if name == "externref" and store_id and store is not None:
        data = ffi.wasmtime_externref_data(store._context(), ctypes.byref(raw.of.externref))
        return Value(name, int(data or 1))
    return Value(name, 1 if store_id else 0)


def call(store: wasmtime.Store, func: wasmtime.Func, args: Sequence[Value],
         params: Sequence[str], results: Sequence[str]) -> list[Value]:
    """Call ``func`` with raw ``args``; raises wasmtime.Trap or wasmtime.WasmtimeError (incl. ExitTrap)."""
    if len(args) != len(params):
        raise TypeError(f"expected {len(params)} arguments, not {len(args)}")
    raw_args = (ffi.wasmtime_val_t * len(args))(*(to_raw(a, t, store) for a, t in zip(args, params, strict=True)))
    raw_results = (ffi.wasmtime_val_t * len(results))()
    trap = ctypes.POINTER(ffi.wasm_trap_t)()
    try:
        error = ffi.wasmtime_func_call(
            store._context(), ctypes.byref(func._func), raw_args, len(args), raw_results, len(results),
            ctypes.byref(trap),
        )
    finally:
        for raw in raw_args:  # the externrefs to_raw made are rooted until the call is over
            ffi.wasmtime_val_unroot(ctypes.byref(raw))
    if error:
        raise wasmtime.WasmtimeError._from_ptr(error)
    if trap:
        raise wasmtime.Trap._from_ptr(trap)
    try:
        return [from_raw(raw, store) for raw in raw_results]
    finally:
        for raw in raw_results:
            ffi.wasmtime_val_unroot(ctypes.byref(raw))


def global_get(store: wasmtime.Store, global_: wasmtime.Global) -> Value:
    """The raw value of a global."""
    raw = ffi.wasmtime_val_t()
    ffi.wasmtime_global_get(store._context(), ctypes.byref(global_._global), ctypes.byref(raw))
    try:
        return from_raw(raw, store)
    finally:
        ffi.wasmtime_val_unroot(ctypes.byref(raw))
