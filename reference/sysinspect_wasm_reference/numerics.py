"""Numeric instructions pywasm 2.2.3 gets wrong, computed the way the WebAssembly spec defines them.

The loader replaces the body of each instruction named in :data:`REPLACED`
in pywasm's interpreter loop with a call to the function of the same name
here. These functions work on bit patterns (Python ints; a v128 is its 16
bytes), as the spec's definitions do (core spec 4.3.3, 4.3.4); pywasm
computes through Python ``float`` (an f64) instead, and that is where each
of its errors comes from, all found by differential testing against
wasmtime:

- ``ceil``, ``floor``, ``trunc``, ``nearest`` (f32, f64, f32x4, f64x2):
  ``float(math.ceil(x))`` goes through a Python int, which has no negative
  zero, so ``ceil(-0.5)`` gave +0 instead of -0; and a signalling NaN came
  back unquieted (f64), which the spec does not allow.
- ``min``, ``max`` (all four shapes): Python's ``min()`` picks by argument
  position when the values compare equal, so ``min(+0, -0)`` gave +0; and a
  signalling NaN came back unquieted (f64).
- ``f32.copysign``, ``f32x4.abs``, ``f32x4.neg``, ``f32x4.pmin``,
  ``f32x4.pmax``: the spec defines them on the bits, NaNs included, but an
  f32 converted to a Python float has a signalling NaN quieted.
- ``f32.convert_i64_s``, ``f32.convert_i64_u``: ``float(n)`` rounds to 53
  bits, then to 24: rounding twice can land on a tie the exact value was
  not on (2**53 + 2**29 + 1 became 2**53 instead of 2**53 + 2**30).
- ``i64.div_u``: a quotient of 2**63 or more was pushed as a signed i64 and
  failed to pack, trapping with "integer overflow".

NaN results. Where a result is a NaN that the spec leaves open (any
arithmetic NaN; a canonical NaN of either sign when every NaN operand is
canonical), these functions return the positive canonical NaN: one fixed,
always-allowed answer. wasmtime answers differently (the negative canonical
NaN on x86, or the operand's payload quieted), and pywasm's other float
instructions answer what the host's f64 arithmetic gives; the differential
comparator normalises NaN results for exactly this reason, so none of it is
a divergence.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable

Operation = Callable[..., int]
VectorOperation = Callable[..., bytearray]

V128_BYTES = 16


class FloatFormat:
    """An IEEE 754 binary format: classifying bit patterns and converting them to Python floats and back."""

    def __init__(self, width: int, mantissa_bits: int, integer_code: str, float_code: str) -> None:
        self.width = width
        self.sign = 1 << (width - 1)
        self.infinity = (self.sign - 1) >> mantissa_bits << mantissa_bits
        self.canonical_nan = self.infinity | 1 << (mantissa_bits - 1)
        self._integer = struct.Struct("<" + integer_code)
        self._float = struct.Struct("<" + float_code)

    def is_nan(self, bits: int) -> bool:
        """True for any NaN, whatever its sign and payload."""
        return bits & ~self.sign > self.infinity

    def value(self, bits: int) -> float:
        """The value of a bit pattern that is not a NaN (exact: an f32 fits in a Python float)."""
        value: float = self._float.unpack(self._integer.pack(bits))[0]
        return value

    def bits(self, value: float) -> int:
        """The bit pattern of ``value``, which must be representable in this format."""
        bits: int = self._integer.unpack(self._float.pack(value))[0]
        return bits


F32 = FloatFormat(32, 23, "I", "f")
F64 = FloatFormat(64, 52, "Q", "d")

F32_PRECISION = 24
"""Significant bits of an f32, the implicit leading one included."""


# -- building blocks --------------------------------------------------------------


def _to_integral(fmt: FloatFormat, to_integer: Callable[[float], int]) -> Operation:
    def operation(a: int) -> int:
        if fmt.is_nan(a):
            return fmt.canonical_nan
        x = fmt.value(a)
        if math.isinf(x):
            return a
        # the result keeps the operand's sign: ceil(-0.5) and nearest(-0.5) are -0
        return fmt.bits(math.copysign(to_integer(x), x))

    return operation


def _minimum(fmt: FloatFormat) -> Operation:
    def operation(a: int, b: int) -> int:
        if fmt.is_nan(a) or fmt.is_nan(b):
            return fmt.canonical_nan
        x, y = fmt.value(a), fmt.value(b)
        if x == y:
            # equal values with different bits are +0 and -0, and the minimum is -0
            return a | b
        return a if x < y else b

    return operation


def _maximum(fmt: FloatFormat) -> Operation:
    def operation(a: int, b: int) -> int:
        if fmt.is_nan(a) or fmt.is_nan(b):
            return fmt.canonical_nan
        x, y = fmt.value(a), fmt.value(b)
        if x == y:
            # equal values with different bits are +0 and -0, and the maximum is +0
            return a & b
        return a if x > y else b

    return operation


def _less(fmt: FloatFormat, a: int, b: int) -> bool:
    return not (fmt.is_nan(a) or fmt.is_nan(b)) and fmt.value(a) < fmt.value(b)


def _pseudo_minimum(fmt: FloatFormat) -> Operation:
    def operation(a: int, b: int) -> int:
        return b if _less(fmt, b, a) else a

    return operation


def _pseudo_maximum(fmt: FloatFormat) -> Operation:
    def operation(a: int, b: int) -> int:
        return b if _less(fmt, a, b) else a

    return operation


def lanewise(operation: Operation, lane_bits: int) -> VectorOperation:
    """``operation`` applied lane by lane to v128 operands (16 little-endian bytes each)."""
    size = lane_bits // 8

    def vector_operation(*vectors: bytes) -> bytearray:
        result = bytearray()
        for start in range(0, V128_BYTES, size):
            lanes = [int.from_bytes(vector[start:start + size], "little") for vector in vectors]
            result += operation(*lanes).to_bytes(size, "little")
        return result

    return vector_operation


def f32_nearest_to_integer(n: int) -> int:
    """The f32 nearest to integer ``n`` (ties to even), rounded once, as bits."""
    magnitude = abs(n)
    excess = magnitude.bit_length() - F32_PRECISION
    if excess > 0:
        quotient, remainder = divmod(magnitude, 1 << excess)
        half = 1 << (excess - 1)
        if remainder > half or (remainder == half and quotient & 1):
            quotient += 1
        magnitude = quotient << excess
    # at most 24 significant bits and below 2**65: exact as a Python float and as an f32
    return F32.bits(math.copysign(float(magnitude), n))


# -- the instructions, named as in pywasm.opcode -------------------------------------

f32_ceil = _to_integral(F32, math.ceil)
f32_floor = _to_integral(F32, math.floor)
f32_trunc = _to_integral(F32, math.trunc)
f32_nearest = _to_integral(F32, round)  # round() of a float rounds ties to even, as nearest must
f64_ceil = _to_integral(F64, math.ceil)
f64_floor = _to_integral(F64, math.floor)
f64_trunc = _to_integral(F64, math.trunc)
f64_nearest = _to_integral(F64, round)

f32_min = _minimum(F32)
f32_max = _maximum(F32)
f64_min = _minimum(F64)
f64_max = _maximum(F64)


def f32_copysign(a: int, b: int) -> int:
    """``a`` with the sign bit of ``b``."""
    return a & ~F32.sign | b & F32.sign


f32_convert_i64_s = f32_nearest_to_integer
f32_convert_i64_u = f32_nearest_to_integer


def i64_div_u(a: int, b: int) -> int:
    """Unsigned division, truncating (``ZeroDivisionError`` for 0 is classified as divide by zero)."""
    return a // b


def _f32_abs(a: int) -> int:
    return a & ~F32.sign


def _f32_neg(a: int) -> int:
    return a ^ F32.sign


f32x4_ceil = lanewise(f32_ceil, 32)
f32x4_floor = lanewise(f32_floor, 32)
f32x4_trunc = lanewise(f32_trunc, 32)
f32x4_nearest = lanewise(f32_nearest, 32)
f64x2_ceil = lanewise(f64_ceil, 64)
f64x2_floor = lanewise(f64_floor, 64)
f64x2_trunc = lanewise(f64_trunc, 64)
f64x2_nearest = lanewise(f64_nearest, 64)
f32x4_min = lanewise(f32_min, 32)
f32x4_max = lanewise(f32_max, 32)
f64x2_min = lanewise(f64_min, 64)
f64x2_max = lanewise(f64_max, 64)
f32x4_abs = lanewise(_f32_abs, 32)
f32x4_neg = lanewise(_f32_neg, 32)
f32x4_pmin = lanewise(_pseudo_minimum(F32), 32)
f32x4_pmax = lanewise(_pseudo_maximum(F32), 32)


# -- what the loader replaces ------------------------------------------------------------

ACCESSORS: dict[str, tuple[str, str]] = {
    "f32": ("into_u32", "from_f32_u32"),
    "f64": ("into_u64", "from_f64_u64"),
    "i64": ("into_i64", "from_i64"),
    "u64": ("into_u64", "from_u64"),
    "v128": ("into_v128", "from_v128"),
}
"""Operand kind -> pywasm ``ValInst`` method reading its bits, and constructor making one from bits."""

_UNARY_F32, _UNARY_F64 = (("f32",), "f32"), (("f64",), "f64")
_BINARY_F32, _BINARY_F64 = (("f32", "f32"), "f32"), (("f64", "f64"), "f64")
_UNARY_V128, _BINARY_V128 = (("v128",), "v128"), (("v128", "v128"), "v128")

REPLACED: dict[str, tuple[tuple[str, ...], str]] = {
    "f32_ceil": _UNARY_F32, "f32_floor": _UNARY_F32, "f32_trunc": _UNARY_F32, "f32_nearest": _UNARY_F32,
    "f64_ceil": _UNARY_F64, "f64_floor": _UNARY_F64, "f64_trunc": _UNARY_F64, "f64_nearest": _UNARY_F64,
    "f32_min": _BINARY_F32, "f32_max": _BINARY_F32, "f32_copysign": _BINARY_F32,
    "f64_min": _BINARY_F64, "f64_max": _BINARY_F64,
    "f32_convert_i64_s": (("i64",), "f32"), "f32_convert_i64_u": (("u64",), "f32"),
    "i64_div_u": (("u64", "u64"), "u64"),
    "f32x4_ceil": _UNARY_V128, "f32x4_floor": _UNARY_V128, "f32x4_trunc": _UNARY_V128, "f32x4_nearest": _UNARY_V128,
    "f64x2_ceil": _UNARY_V128, "f64x2_floor": _UNARY_V128, "f64x2_trunc": _UNARY_V128, "f64x2_nearest": _UNARY_V128,
    "f32x4_min": _BINARY_V128, "f32x4_max": _BINARY_V128, "f64x2_min": _BINARY_V128, "f64x2_max": _BINARY_V128,
    "f32x4_abs": _UNARY_V128, "f32x4_neg": _UNARY_V128, "f32x4_pmin": _BINARY_V128, "f32x4_pmax": _BINARY_V128,
}
"""pywasm opcode name -> (operand kinds, result kind) of each instruction computed here instead."""
