"""Numeric instructions compute what the WebAssembly spec says, on both backends, bit for bit.

Two kinds of tests, all on real guests (one exported function per instruction):

- pinned cases: an instruction, its operands' bits and the result bits the
  spec requires (core spec 4.3.3), run on each backend. They are the
  regressions for what pywasm 2.2.3 computed wrongly and the reference
  backend now computes itself (see ``sysinspect_wasm_reference.numerics``);
- a sweep, instruction by instruction, over tables of edge values (signed
  zeros, subnormals, infinities, canonical, payload and signalling NaNs,
  rounding ties, the limits of every integer conversion, shift counts past
  the width) plus a few fixed random patterns: both backends must return the
  same bits or trap the same way.

The spec lets engines differ in one place only: a NaN produced by an
arithmetic instruction may be any arithmetic NaN, or, when every NaN operand
is canonical, a canonical NaN of either sign (4.3.3, "NaN propagation").
There the two results are each checked against that rule instead of against
each other (the differential comparator normalises such NaNs for the same
reason). Instructions the spec defines on the bits (abs, neg, copysign,
pmin, pmax, reinterpret) get no such leeway.

v128 values never cross the export boundary (the wasmtime backend cannot pass
them): vector operands are built from two i64 halves, and vector results come
back as two i64 halves.
"""

from __future__ import annotations

import itertools
import random
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

import pytest
from conftest import load_backend, wat_to_wasm
from sysinspect_wasm_reference import loader, numerics

from sysinspect_wasm import Backend, GuestTrap, Instance, Value
from sysinspect_wasm.backends import PYWASM, WASMTIME

MASK64 = (1 << 64) - 1


# -- instructions ------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    """A numeric instruction: its operand and result types, and the float lanes they carry (if any)."""

    name: str
    params: tuple[str, ...]
    result: str
    param_lanes: tuple[str | None, ...] = ()  # per v128 operand: "f32", "f64" or None (integer lanes)
    result_lanes: str | None = None  # for a v128 result
    exact: bool = False  # the spec defines the result bits exactly, NaNs included

    @property
    def export(self) -> str:
        """The name of the guest function that runs it."""
        return self.name


BIT_EXACT = {"abs", "neg", "copysign", "pmin", "pmax"}


def _scalar_instructions() -> Iterator[Instruction]:
    for t in ("i32", "i64"):
        for op in ("clz", "ctz", "popcnt", "extend8_s", "extend16_s", *(("extend32_s",) if t == "i64" else ())):
            yield Instruction(f"{t}.{op}", (t,), t)
        yield Instruction(f"{t}.eqz", (t,), "i32")
        for op in ["add", "sub", "mul", "div_s", "div_u", "rem_s", "rem_u", "and", "or", "xor", "shl", "shr_s", "shr_u", "rotl", "rotr"]:
            yield Instruction(f"{t}.{op}", (t, t), t)
        for op in ["eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u"]:
            yield Instruction(f"{t}.{op}", (t, t), "i32")
    for t in ("f32", "f64"):
        for op in ["abs", "neg", "ceil", "floor", "trunc", "nearest", "sqrt"]:
            yield Instruction(f"{t}.{op}", (t,), t, exact=op in BIT_EXACT)
        for op in ["add", "sub", "mul", "div", "min", "max", "copysign"]:
            yield Instruction(f"{t}.{op}", (t, t), t, exact=op in BIT_EXACT)
        for op in ["eq", "ne", "lt", "gt", "le", "ge"]:
            yield Instruction(f"{t}.{op}", (t, t), "i32")
    yield Instruction("i32.wrap_i64", ("i64",), "i32")
    yield Instruction("i64.extend_i32_s", ("i32",), "i64")
    yield Instruction("i64.extend_i32_u", ("i32",), "i64")
    for i, f, sign in itertools.product(("i32", "i64"), ("f32", "f64"), "su"):
        yield Instruction(f"{i}.trunc_{f}_{sign}", (f,), i)
        yield Instruction(f"{i}.trunc_sat_{f}_{sign}", (f,), i)
        yield Instruction(f"{f}.convert_{i}_{sign}", (i,), f)
    yield Instruction("f32.demote_f64", ("f64",), "f32")
    yield Instruction("f64.promote_f32", ("f32",), "f64")
    for i, f in (("i32", "f32"), ("i64", "f64")):
        yield Instruction(f"{i}.reinterpret_{f}", (f,), i)
        yield Instruction(f"{f}.reinterpret_{i}", (i,), f, exact=True)


def _vector(name: str, operands: int, lanes: str | None = None, result_lanes: str | None = None,
            extra: tuple[str, ...] = ()) -> Instruction:
    return Instruction(name, ("v128",) * operands + extra, "v128", (lanes,) * operands, result_lanes,
                       exact=name.split(".")[1] in BIT_EXACT and lanes is not None)


def _vector_instructions() -> Iterator[Instruction]:
    for f in ("f32", "f64"):
        shape = "f32x4" if f == "f32" else "f64x2"
        for op in ["abs", "neg", "sqrt", "ceil", "floor", "trunc", "nearest"]:
            yield _vector(f"{shape}.{op}", 1, f, f)
        for op in ["add", "sub", "mul", "div", "min", "max", "pmin", "pmax"]:
            yield _vector(f"{shape}.{op}", 2, f, f)
        for op in ["eq", "ne", "lt", "gt", "le", "ge"]:
            yield _vector(f"{shape}.{op}", 2, f)
    yield _vector("f32x4.convert_i32x4_s", 1, None, "f32")
    yield _vector("f32x4.convert_i32x4_u", 1, None, "f32")
    yield _vector("f64x2.convert_low_i32x4_s", 1, None, "f64")
    yield _vector("f64x2.convert_low_i32x4_u", 1, None, "f64")
    yield _vector("f32x4.demote_f64x2_zero", 1, "f64", "f32")
    yield _vector("f64x2.promote_low_f32x4", 1, "f32", "f64")
    for sign in "su":
        yield _vector(f"i32x4.trunc_sat_f32x4_{sign}", 1, "f32")
        yield _vector(f"i32x4.trunc_sat_f64x2_{sign}_zero", 1, "f64")
    shapes = ("i8x16", "i16x8", "i32x4", "i64x2")
    for shape in shapes:
        small = shape in ("i8x16", "i16x8")
        for op in ("abs", "neg"):
            yield _vector(f"{shape}.{op}", 1)
        for op in ("add", "sub", "eq", "ne", "lt_s", "gt_s", "le_s", "ge_s", *(() if shape == "i8x16" else ("mul",))):
            yield _vector(f"{shape}.{op}", 2)
        if shape != "i64x2":
            for op in ("lt_u", "gt_u", "le_u", "ge_u", "min_s", "min_u", "max_s", "max_u"):
                yield _vector(f"{shape}.{op}", 2)
        if small:
            for op in ("add_sat_s", "add_sat_u", "sub_sat_s", "sub_sat_u", "avgr_u"):
                yield _vector(f"{shape}.{op}", 2)
        for op in ("shl", "shr_s", "shr_u"):
            yield _vector(f"{shape}.{op}", 1, extra=("i32",))
        for op in ("all_true", "bitmask"):
            yield Instruction(f"{shape}.{op}", ("v128",), "i32")
    yield _vector("i8x16.popcnt", 1)
    yield _vector("i8x16.swizzle", 2)
    yield _vector("i16x8.q15mulr_sat_s", 2)
    yield _vector("i32x4.dot_i16x8_s", 2)
    for wide, narrow in (("i16x8", "i8x16"), ("i32x4", "i16x8"), ("i64x2", "i32x4")):
        for half, sign in itertools.product(("low", "high"), "su"):
            yield _vector(f"{wide}.extend_{half}_{narrow}_{sign}", 1)
            yield _vector(f"{wide}.extmul_{half}_{narrow}_{sign}", 2)
        if wide != "i64x2":
            for sign in "su":
                yield _vector(f"{wide}.extadd_pairwise_{narrow}_{sign}", 1)
                yield _vector(f"{narrow}.narrow_{wide}_{sign}", 2)
    yield _vector("v128.not", 1)
    for op in ("and", "or", "xor", "andnot"):
        yield _vector(f"v128.{op}", 2)
    yield _vector("v128.bitselect", 3)
    yield Instruction("v128.any_true", ("v128",), "i32")


SCALAR = {i.name: i for i in _scalar_instructions()}
VECTOR = {i.name: i for i in _vector_instructions()}
INSTRUCTIONS = {**SCALAR, **VECTOR}


def _function(instruction: Instruction) -> str:
    params: list[str] = []
    operands: list[str] = []
    for kind in instruction.params:
        if kind == "v128":
            low, high = len(params), len(params) + 1
            params += ["i64", "i64"]
            operands.append(f"(i64x2.replace_lane 1 (i64x2.splat (local.get {low})) (local.get {high}))")
        else:
            operands.append(f"(local.get {len(params)})")
            params.append(kind)
    body = f"({instruction.name} {' '.join(operands)})"
    if instruction.result == "v128":
        result = "(result i64 i64)"
        body = f"(local.set $v {body}) (i64x2.extract_lane 0 (local.get $v)) (i64x2.extract_lane 1 (local.get $v))"
    else:
        result = f"(result {instruction.result})"
    signature = " ".join(f"(param {p})" for p in params)
    return f'(func (export "{instruction.export}") {signature} {result} (local $v v128) {body})'


WAT = "(module\n" + "\n".join(_function(i) for i in INSTRUCTIONS.values()) + ")"


class Instances:
    """The module of every instruction's guest function, instantiated once per backend."""

    def __init__(self) -> None:
        self.wasm = wat_to_wasm(WAT)
        self.by_backend: dict[str, Instance] = {}

    def __call__(self, backend: Backend) -> Instance:
        """The instance on ``backend``."""
        if backend.name not in self.by_backend:
            self.by_backend[backend.name] = backend.load(self.wasm, name="numerics").instantiate()
        return self.by_backend[backend.name]


@pytest.fixture(scope="module")
def instance() -> Iterator[Instances]:
    """Instances for this module's tests, released when they are done (not at interpreter exit)."""
    instances = Instances()
    yield instances
    instances.by_backend.clear()


Outcome = tuple[str, int | str]
"""("ok", result bits) or ("trap", trap kind)."""


def call(target: Instance, instruction: Instruction, operands: Sequence[int]) -> Outcome:
    """Run ``instruction`` on operand bits (a v128 as one 128-bit int); its result bits or its trap kind."""
    args: list[Value] = []
    for kind, bits in zip(instruction.params, operands, strict=True):
        args += [Value("i64", bits & MASK64), Value("i64", bits >> 64)] if kind == "v128" else [Value(kind, bits)]
    try:
        results = target.call(instruction.export, args)
    except GuestTrap as exc:
        return "trap", exc.trap.kind.value
    if instruction.result == "v128":
        return "ok", results[0].bits | results[1].bits << 64
    return "ok", results[0].bits


# -- values ---------------------------------------------------------------------------------

FORMATS = {"f32": numerics.F32, "f64": numerics.F64}


def f32(x: float) -> int:
    """The bits of the f32 ``x``."""
    return Value.f32(x).bits


def f64(x: float) -> int:
    """The bits of the f64 ``x``."""
    return Value.f64(x).bits


def v128(lanes: Sequence[int], lane_bits: int) -> int:
    """A v128 from lane bit patterns, lane 0 first."""
    return sum(lane << (lane_bits * i) for i, lane in enumerate(lanes))


NEG_ZERO_32, NEG_ZERO_64 = 0x8000_0000, 0x8000_0000_0000_0000
F32_SNAN, F32_PAYLOAD_NAN, F32_NAN = 0x7FA0_0001, 0x7FC0_0001, 0x7FC0_0000
F64_SNAN, F64_PAYLOAD_NAN, F64_NAN = 0x7FF4_0000_0000_0001, 0x7FF8_0000_0000_0001, 0x7FF8_0000_0000_0000

_random = random.Random(20240611)

EDGES: dict[str, list[int]] = {
    "i32": [0, 1, 2, 31, 32, 33, 0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, 0xFFFF_FFFF, 0xFFFF_FFFE, 0x1234_5678,
            0x0000_FF80, 0x0000_8000, 0x0100_0001, 0xFF00_0001],
    "i64": [0, 1, 2, 63, 64, 65, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0x8000_0000_0000_0001,
            0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFE, 0x1234_5678_9ABC_DEF0,
            0x0020_0000_2000_0001,  # 2**53 + 2**29 + 1: just above an f32 tie, lands on it if rounded via f64
            0x8000_0080_0000_0001, 0xFFFF_FF7F_FFFF_FFFF, 0xFFDF_FFFF_DFFF_FFFF,
            0x0000_0000_FFFF_FFFF, 0x0000_0000_8000_0000, 0x0020_0000_0000_0001, 0xFFFF_FFFF_FFFF_F801],
    "f32": [f32(x) for x in (0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -2.5, 0.4, -0.4, 2.0**23, 2.0**23 + 1, 2.0**31,
                             -(2.0**31), 2.0**32, 2.0**63, -(2.0**63), 2.0**64, float("inf"), float("-inf"))]
    + [0xBF7F_FFFF, 0xBF00_0001, 0x0000_0001, 0x8000_0001, 0x007F_FFFF, 0x0080_0000, 0x7F7F_FFFF, 0xFF7F_FFFF,
       0x4EFF_FFFF, 0xCF00_0001, 0x4F7F_FFFF, 0x5EFF_FFFF, 0x5F7F_FFFF,
       F32_NAN, 0xFFC0_0000, F32_SNAN, 0xFFA0_0000, F32_PAYLOAD_NAN],
    "f64": [f64(x) for x in (0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -2.5, -0.4, 2.0**52, 2.0**31, -(2.0**31),
                             2.0**31 - 1, 2.0**32, 2.0**63, -(2.0**63), 2.0**64, float("inf"), float("-inf"))]
    + [0xBFEF_FFFF_FFFF_FFFF, 0x0000_0000_0000_0001, 0x8000_0000_0000_0001, 0x000F_FFFF_FFFF_FFFF,
       0x0010_0000_0000_0000, 0x7FEF_FFFF_FFFF_FFFF, 0xFFEF_FFFF_FFFF_FFFF,
       0xC1E0_0000_001F_FFFF, 0xC1E0_0000_0020_0000, 0x41EF_FFFF_FFFF_FFFF, 0x43DF_FFFF_FFFF_FFFF, 0x43EF_FFFF_FFFF_FFFF,
       0x47EF_FFFF_E000_0000, 0x47EF_FFFF_E000_0001,  # halfway above the largest f32, and just past it
       0x36A0_0000_0000_0000, 0x36A0_0000_0000_0001,  # half the smallest f32 subnormal, and just past it
       0x3FF0_0000_1000_0000, 0x3FF0_0000_1000_0001,  # an f32 rounding tie, and just past it
       F64_NAN, 0xFFF8_0000_0000_0000, F64_SNAN, F64_PAYLOAD_NAN],
}
for _kind, _width in (("i32", 32), ("i64", 64), ("f32", 32), ("f64", 64)):
    EDGES[_kind] += [_random.getrandbits(_width) for _ in range(8)]


VECTOR_F32_LANES = [0, NEG_ZERO_32, f32(1.0), f32(-1.0), f32(0.5), f32(-0.5), f32(1.5), f32(-2.5), f32(-0.4),
                    f32(float("inf")), f32(float("-inf")), F32_NAN, 0xFFC0_0000, F32_SNAN, F32_PAYLOAD_NAN, 0x0000_0001,
                    0x7F7F_FFFF, f32(2.0**31), 0xCF00_0001, f32(2.0**32), 0x4F7F_FFFF, 0xBF7F_FFFF, 0x8000_0001, 0xFFA0_0000]
VECTOR_F64_LANES = [0, NEG_ZERO_64, f64(1.0), f64(-0.5), f64(float("inf")), f64(float("-inf")), F64_NAN, F64_SNAN,
                    F64_PAYLOAD_NAN, f64(2.0**31), 0xC1E0_0000_0020_0000, 0x47EF_FFFF_E000_0001]


def _vectors() -> list[int]:
    """Vectors of float lanes from the tables above, integer lane patterns, and random bits."""
    out = [v128(VECTOR_F32_LANES[i:i + 4], 32) for i in range(0, len(VECTOR_F32_LANES), 4)]
    out += [v128(VECTOR_F64_LANES[i:i + 2], 64) for i in range(0, len(VECTOR_F64_LANES), 2)]
    out += [0, (1 << 128) - 1, v128([0x7FFF_8000, 0xFFFF_0001, 0x7FFF_FFFF, 0x8000_0001], 32),
            v128([0x7F7F_7F7F_7F7F_7F7F, 0x8080_8080_8080_8080], 64), v128(list(range(16)), 8), v128([0x1F, 0x80] * 8, 8)]
    out += [_random.getrandbits(128) for _ in range(3)]
    return out


EDGES["v128"] = _vectors()
SHIFT_COUNTS = [0, 1, 7, 8, 15, 16, 31, 33, 63, 64, 0xFFFF_FFFF]
TERNARY_VECTORS = EDGES["v128"][::3]


def operand_tuples(instruction: Instruction) -> list[tuple[int, ...]]:
    """Every combination of edge values for the instruction's operands."""
    if instruction.params.count("v128") == 3:
        return list(itertools.product(TERNARY_VECTORS, repeat=3))
    pools = [SHIFT_COUNTS if kind == "i32" and instruction.result == "v128" else EDGES[kind] for kind in instruction.params]
    return list(itertools.product(*pools))


# -- the NaN rule -----------------------------------------------------------------------------


def lanes(bits: int, kind: str, lane_bits: int) -> list[tuple[str, int]]:
    """A value's float lanes as (format, bits): one for a scalar, several for a vector."""
    if lane_bits == 128:
        return [(kind, bits)]
    return [(kind, bits >> (lane_bits * i) & ((1 << lane_bits) - 1)) for i in range(128 // lane_bits)]


def is_canonical_nan(kind: str, bits: int) -> bool:
    """A canonical NaN of either sign."""
    fmt = FORMATS[kind]
    return bits & ~fmt.sign == fmt.canonical_nan


def is_arithmetic_nan(kind: str, bits: int) -> bool:
    """A NaN whose payload has its top bit set (a quiet NaN), either sign."""
    fmt = FORMATS[kind]
    return fmt.is_nan(bits) and bits & fmt.canonical_nan == fmt.canonical_nan


def nan_allowed(kind: str, result: int, nan_operands: Sequence[tuple[str, int]]) -> bool:
    """Whether NaN ``result`` is one the spec allows, given the NaN operands it came from (spec 4.3.3)."""
    if all(is_canonical_nan(k, b) for k, b in nan_operands):
        return is_canonical_nan(kind, result)
    return is_arithmetic_nan(kind, result)


def float_result_lanes(instruction: Instruction) -> tuple[str, int] | None:
    """The float format of the result's lanes and the lane width (128 for a scalar), or None."""
    if instruction.result in FORMATS:
        return instruction.result, 128
    if instruction.result_lanes is not None:
        return instruction.result_lanes, 32 if instruction.result_lanes == "f32" else 64
    return None


def operand_nans(instruction: Instruction, operands: Sequence[int], lane: int, lane_bits: int) -> list[tuple[str, int]]:
    """The NaN operands a result lane comes from: the same lane of same-shaped operands, every lane of others."""
    found: list[tuple[str, int]] = []
    vector_kinds = iter(instruction.param_lanes)
    for kind, bits in zip(instruction.params, operands, strict=True):
        lane_kind = next(vector_kinds) if kind == "v128" else kind if kind in FORMATS else None
        if lane_kind is None:
            continue
        width = 128 if kind != "v128" else 32 if lane_kind == "f32" else 64
        values = lanes(bits, lane_kind, width)
        if width == lane_bits and kind == "v128":
            values = [values[lane]]
        found += [(k, b) for k, b in values if FORMATS[k].is_nan(b)]
    return found


def agree(instruction: Instruction, operands: Sequence[int], reference: Outcome, production: Outcome) -> bool:
    """Whether two outcomes agree: the same, or NaN lanes that each follow the spec's NaN rule."""
    if reference == production:
        return True
    floats = float_result_lanes(instruction)
    if instruction.exact or floats is None or reference[0] != "ok" or production[0] != "ok":
        return False
    kind, lane_bits = floats
    assert isinstance(reference[1], int) and isinstance(production[1], int)
    pairs = zip(lanes(reference[1], kind, lane_bits), lanes(production[1], kind, lane_bits), strict=True)
    for lane, ((_, ours), (_, theirs)) in enumerate(pairs):
        if ours == theirs:
            continue
        nans = operand_nans(instruction, operands, lane, lane_bits)
        if not (nan_allowed(kind, ours, nans) and nan_allowed(kind, theirs, nans)):
            return False
    return True


# -- pinned cases: what the spec requires ---------------------------------------------------------

PINNED: list[tuple[str, tuple[int, ...], int]] = [
    # rounding keeps the sign of zero: values in (-1, -0] round to -0
    ("f64.nearest", (f64(-0.5),), NEG_ZERO_64),
    ("f64.nearest", (f64(-0.4),), NEG_ZERO_64),
    ("f64.nearest", (NEG_ZERO_64,), NEG_ZERO_64),
    ("f64.nearest", (f64(-2.5),), f64(-2.0)),
    ("f64.nearest", (f64(2.5),), f64(2.0)),
    ("f64.ceil", (f64(-0.5),), NEG_ZERO_64),
    ("f64.ceil", (0xBFEF_FFFF_FFFF_FFFF,), NEG_ZERO_64),
    ("f64.ceil", (0x8000_0000_0000_0001,), NEG_ZERO_64),
    ("f64.trunc", (f64(-0.7),), NEG_ZERO_64),
    ("f64.trunc", (NEG_ZERO_64,), NEG_ZERO_64),
    ("f64.floor", (NEG_ZERO_64,), NEG_ZERO_64),
    ("f64.floor", (f64(-0.5),), f64(-1.0)),
    ("f64.floor", (f64(0.5),), 0),
    ("f64.sqrt", (NEG_ZERO_64,), NEG_ZERO_64),
    ("f32.ceil", (f32(-0.5),), NEG_ZERO_32),
    ("f32.ceil", (0xBF7F_FFFF,), NEG_ZERO_32),
    ("f32.floor", (NEG_ZERO_32,), NEG_ZERO_32),
    ("f32.trunc", (f32(-0.5),), NEG_ZERO_32),
    ("f32.nearest", (f32(-0.5),), NEG_ZERO_32),
    ("f32.nearest", (f32(-1.5),), f32(-2.0)),
    ("f32.sqrt", (NEG_ZERO_32,), NEG_ZERO_32),
    # min(-0, +0) = -0 and max(-0, +0) = +0, in either order
    ("f32.min", (0, NEG_ZERO_32), NEG_ZERO_32),
    ("f32.min", (NEG_ZERO_32, 0), NEG_ZERO_32),
    ("f32.max", (0, NEG_ZERO_32), 0),
    ("f32.max", (NEG_ZERO_32, 0), 0),
    ("f64.min", (0, NEG_ZERO_64), NEG_ZERO_64),
    ("f64.min", (NEG_ZERO_64, 0), NEG_ZERO_64),
    ("f64.max", (0, NEG_ZERO_64), 0),
    ("f64.max", (NEG_ZERO_64, 0), 0),
    # abs, neg, copysign change the sign bit only, even of a signalling NaN
    ("f32.copysign", (F32_SNAN, f32(-1.0)), 0xFFA0_0001),
    ("f32.copysign", (F32_SNAN, f32(1.0)), F32_SNAN),
    ("f32.copysign", (0xFFA0_0001, F32_NAN), F32_SNAN),
    ("f64.copysign", (F64_SNAN, f64(-1.0)), 0xFFF4_0000_0000_0001),
    ("f32.neg", (F32_SNAN,), 0xFFA0_0001),
    ("f32.abs", (0xFFA0_0001,), F32_SNAN),
    ("f64.neg", (F64_SNAN,), 0xFFF4_0000_0000_0001),
    ("f64.abs", (0xFFF4_0000_0000_0001,), F64_SNAN),
    ("f32.reinterpret_i32", (F32_SNAN,), F32_SNAN),
    # i64 -> f32 is rounded once
    ("f32.convert_i64_u", (0x0020_0000_2000_0001,), 0x5A00_0001),
    ("f32.convert_i64_s", (0x0020_0000_2000_0001,), 0x5A00_0001),
    ("f32.convert_i64_s", (-0x0020_0000_2000_0001 & MASK64,), 0xDA00_0001),
    ("f32.convert_i64_u", (0x8000_0080_0000_0001,), 0x5F00_0001),
    ("f32.convert_i64_u", (0xFFFF_FF7F_FFFF_FFFF,), 0x5F7F_FFFF),
    ("f32.convert_i64_u", (0xFFFF_FFFF_FFFF_FFFF,), f32(2.0**64)),
    # i64.div_u has an unsigned quotient
    ("i64.div_u", (0xFFFF_FFFF_FFFF_FFFF, 1), 0xFFFF_FFFF_FFFF_FFFF),
    ("i64.div_u", (0x8000_0000_0000_0000, 1), 0x8000_0000_0000_0000),
    ("i64.div_u", (0xFFFF_FFFF_FFFF_FFFF, 2), 0x7FFF_FFFF_FFFF_FFFF),
    # the same, lane by lane
    ("f32x4.ceil", (v128([f32(-0.5), NEG_ZERO_32, f32(0.5), f32(1.5)], 32),), v128([NEG_ZERO_32, NEG_ZERO_32, f32(1.0), f32(2.0)], 32)),
    ("f32x4.floor", (v128([NEG_ZERO_32, f32(-0.5), 0, f32(0.5)], 32),), v128([NEG_ZERO_32, f32(-1.0), 0, 0], 32)),
    ("f32x4.trunc", (v128([f32(-0.9), f32(0.9), f32(-1.5), f32(1.5)], 32),), v128([NEG_ZERO_32, 0, f32(-1.0), f32(1.0)], 32)),
    ("f32x4.nearest", (v128([f32(-0.5), f32(0.5), f32(-2.5), f32(3.5)], 32),), v128([NEG_ZERO_32, 0, f32(-2.0), f32(4.0)], 32)),
    ("f64x2.nearest", (v128([f64(-0.5), f64(2.5)], 64),), v128([NEG_ZERO_64, f64(2.0)], 64)),
    ("f64x2.ceil", (v128([f64(-0.5), NEG_ZERO_64], 64),), v128([NEG_ZERO_64, NEG_ZERO_64], 64)),
    ("f64x2.floor", (v128([NEG_ZERO_64, f64(0.5)], 64),), v128([NEG_ZERO_64, 0], 64)),
    ("f64x2.trunc", (v128([f64(-0.5), f64(0.5)], 64),), v128([NEG_ZERO_64, 0], 64)),
    ("f32x4.min", (v128([0, NEG_ZERO_32, 0, NEG_ZERO_32], 32), v128([NEG_ZERO_32, 0, 0, NEG_ZERO_32], 32)),
     v128([NEG_ZERO_32, NEG_ZERO_32, 0, NEG_ZERO_32], 32)),
    ("f32x4.max", (v128([0, NEG_ZERO_32, 0, NEG_ZERO_32], 32), v128([NEG_ZERO_32, 0, 0, NEG_ZERO_32], 32)),
     v128([0, 0, 0, NEG_ZERO_32], 32)),
    ("f64x2.min", (v128([0, NEG_ZERO_64], 64), v128([NEG_ZERO_64, 0], 64)), v128([NEG_ZERO_64, NEG_ZERO_64], 64)),
    ("f64x2.max", (v128([0, NEG_ZERO_64], 64), v128([NEG_ZERO_64, 0], 64)), v128([0, 0], 64)),
    ("f32x4.neg", (v128([F32_SNAN, 0, 0xFFA0_0001, f32(1.0)], 32),), v128([0xFFA0_0001, NEG_ZERO_32, F32_SNAN, f32(-1.0)], 32)),
    ("f32x4.abs", (v128([0xFFA0_0001, NEG_ZERO_32, F32_SNAN, f32(-1.0)], 32),), v128([F32_SNAN, 0, F32_SNAN, f32(1.0)], 32)),
    # pmin/pmax are "b < a ? b : a" and "a < b ? b : a" on the operands' bits
    ("f32x4.pmin", (v128([F32_SNAN, f32(1.0), 0, NEG_ZERO_32], 32), v128([f32(1.0), F32_SNAN, NEG_ZERO_32, 0], 32)),
     v128([F32_SNAN, f32(1.0), 0, NEG_ZERO_32], 32)),
    ("f32x4.pmax", (v128([F32_SNAN, f32(1.0), 0, f32(1.0)], 32), v128([f32(2.0), F32_SNAN, NEG_ZERO_32, f32(2.0)], 32)),
     v128([F32_SNAN, f32(1.0), 0, f32(2.0)], 32)),
]


def _pinned_id(case: tuple[str, tuple[int, ...], int]) -> str:
    name, operands, _ = case
    return f"{name}({', '.join(hex(o) for o in operands)})"


@pytest.mark.parametrize(("name", "operands", "expected"), PINNED, ids=[_pinned_id(c) for c in PINNED])
def test_the_result_is_what_the_spec_requires(backend: Backend, instance: Instances, name: str,
                                              operands: tuple[int, ...], expected: int) -> None:
    outcome = call(instance(backend), INSTRUCTIONS[name], operands)
    assert outcome == ("ok", expected), f"{name} on {backend.name}: {outcome[1]!r}, the spec says {expected:#x}"


# an arithmetic instruction given a signalling NaN must answer a quiet (arithmetic) NaN, never the operand as it is
SIGNALLING: list[tuple[str, tuple[int, ...]]] = [
    ("f64.min", (F64_SNAN, f64(1.0))), ("f64.max", (f64(1.0), F64_SNAN)),
    ("f64.ceil", (F64_SNAN,)), ("f64.floor", (F64_SNAN,)), ("f64.trunc", (F64_SNAN,)), ("f64.nearest", (F64_SNAN,)),
    ("f32.min", (F32_SNAN, 0)), ("f32.nearest", (F32_SNAN,)), ("f64.add", (F64_SNAN, 0)), ("f32.mul", (F32_SNAN, 0)),
    ("f64.promote_f32", (F32_SNAN,)), ("f32.demote_f64", (F64_SNAN,)),
]


@pytest.mark.parametrize(("name", "operands"), SIGNALLING, ids=[n for n, _ in SIGNALLING])
def test_a_signalling_nan_operand_gives_an_arithmetic_nan(backend: Backend, instance: Instances, name: str,
                                                          operands: tuple[int, ...]) -> None:
    instruction = INSTRUCTIONS[name]
    status, bits = call(instance(backend), instruction, operands)
    assert status == "ok" and isinstance(bits, int)
    assert is_arithmetic_nan(instruction.result, bits), f"{name} on {backend.name} gave {bits:#x}"


# canonical NaNs in (or none at all) give a canonical NaN out
CANONICAL: list[tuple[str, tuple[int, ...]]] = [
    ("f64.min", (F64_NAN, f64(1.0))), ("f32.max", (0xFFC0_0000, 0)), ("f64.ceil", (F64_NAN,)),
    ("f32.sqrt", (f32(-1.0),)), ("f64.div", (0, 0)), ("f32.add", (f32(float("inf")), f32(float("-inf")))),
]


@pytest.mark.parametrize(("name", "operands"), CANONICAL, ids=[n for n, _ in CANONICAL])
def test_canonical_nans_stay_canonical(backend: Backend, instance: Instances, name: str,
                                       operands: tuple[int, ...]) -> None:
    instruction = INSTRUCTIONS[name]
    status, bits = call(instance(backend), instruction, operands)
    assert status == "ok" and isinstance(bits, int)
    assert is_canonical_nan(instruction.result, bits), f"{name} on {backend.name} gave {bits:#x}"


# -- the sweep: both backends, instruction by instruction ------------------------------------------


@pytest.mark.parametrize("name", sorted(INSTRUCTIONS))
def test_both_backends_agree_on_edge_values(instance: Instances, name: str) -> None:
    instruction = INSTRUCTIONS[name]
    reference = instance(load_backend(PYWASM))
    production = instance(load_backend(WASMTIME))
    differences = []
    for operands in operand_tuples(instruction):
        ours, theirs = call(reference, instruction, operands), call(production, instruction, operands)
        if not agree(instruction, operands, ours, theirs):
            differences.append(f"{name}({', '.join(hex(o) for o in operands)}): pywasm {_show(ours)}, wasmtime {_show(theirs)}")
    assert not differences, f"{len(differences)} differences, first ones:\n" + "\n".join(differences[:10])


def _show(outcome: Outcome) -> str:
    status, value = outcome
    return f"{value:#x}" if isinstance(value, int) else f"{status} {value}"


# -- the reference's own pieces --------------------------------------------------------------------


def test_every_replaced_instruction_has_its_function() -> None:
    for name, (operands, result) in numerics.REPLACED.items():
        assert callable(getattr(numerics, name)), name
        assert all(kind in numerics.ACCESSORS for kind in (*operands, result)), name


def test_each_replaced_instruction_is_found_exactly_once() -> None:
    source = (loader._pywasm_dir() / "core.py").read_text()
    loader.rewrite("core", source, "core.py")
    twice = source.replace("case pywasm.opcode.f64_nearest:", "case pywasm.opcode.f64_nearest:\n                    pass\n"
                           "                case pywasm.opcode.f64_nearest:", 1)
    with pytest.raises(loader.EngineMismatch, match="numeric f64_nearest"):
        loader.rewrite("core", twice, "core.py")
    missing = source.replace("case pywasm.opcode.f32x4_pmin:", "case pywasm.opcode.f32x4_pmin_renamed:", 1)
    with pytest.raises(loader.EngineMismatch, match="numeric f32x4_pmin"):
        loader.rewrite("core", missing, "core.py")


def test_the_replaced_body_pops_bits_and_pushes_bits() -> None:
    import ast

    body = "\n".join(ast.unparse(statement) for statement in loader.numeric_body("f32_min"))
    assert body == (
        "b = self.stack.value.pop().into_u32()\n"
        "a = self.stack.value.pop().into_u32()\n"
        f"self.stack.value.append(ValInst.from_f32_u32({loader.NUMERICS_NAME}.f32_min(a, b)))"
    )


def _f32_value(bits: int) -> float:
    value: float = struct.unpack("<f", struct.pack("<I", bits))[0]
    return value


@pytest.mark.parametrize("n", [0, 1, -1, 2**24 + 1, 2**24 + 3, 2**53 + 2**29 + 1, -(2**63), 2**64 - 1, 2**63 + 2**39 + 1,
                               2**64 - 2**39 - 1, 0x7FFF_FF80_0000_0000, *(_random.getrandbits(64) for _ in range(200))])
def test_integers_round_to_the_nearest_f32_once(n: int) -> None:
    bits = numerics.f32_nearest_to_integer(n)
    error = abs(Fraction(n) - Fraction(_f32_value(bits)))
    # the f32s either side (in magnitude) are no nearer; at a tie the even significand wins
    for neighbour in (bits - 1, bits + 1) if bits & 0x7FFF_FFFF else (bits + 1,):
        other = abs(Fraction(n) - Fraction(_f32_value(neighbour)))
        assert error <= other
        if error == other:
            assert bits & 1 == 0, f"{n}: a tie must go to the even significand"
