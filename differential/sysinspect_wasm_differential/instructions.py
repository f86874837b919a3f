"""Single-instruction modules: every numeric, memory and SIMD instruction, one exported function each.

wasm-smith builds whole programs, and in them any one instruction meets
only the few operand values the program happens to compute. This table
lets hypothesis aim each instruction at its edge cases directly (signed
zeros, NaNs, ties, the top bit of a u64, a page boundary), the way the
spec test suite does. Each drawn :class:`InstructionCase` becomes a
function whose parameters are the instruction's operands.

v128 operands and results never cross the export boundary (wasmtime's
bindings cannot pass them, finding F1): a v128 operand is built from two
i64 parameters, and a v128 result is returned as its two i64 halves.
Float-lane results are canonicalised inside the module first, as
wasm-smith's ``--canonicalize-nans`` does, because their NaN payloads are
nondeterministic (see the ``nan-payload`` normalisation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

INT = ("i32", "i64")
FLOAT = ("f32", "f64")


@dataclass(frozen=True)
class Instruction:
    """An instruction's name, its operand and result types, and the immediates it takes.

    ``immediate`` is ``""``, ``"lane"`` (a lane index below ``lanes``),
    ``"shuffle"`` (16 lane indices below 32) or ``"memarg"`` (offset and
    alignment below ``2**align_max``).
    """

    name: str
    params: tuple[str, ...]
    results: tuple[str, ...]
    immediate: str = ""
    lanes: int = 0
    align_max: int = 0


def _scalar() -> list[Instruction]:
    table: list[Instruction] = []
    for t in INT:
        table += [Instruction(f"{t}.{op}", (t,), (t,)) for op in ("clz", "ctz", "popcnt", "extend8_s", "extend16_s")]
        table.append(Instruction(f"{t}.eqz", (t,), ("i32",)))
        table += [Instruction(f"{t}.{op}", (t, t), (t,)) for op in (
            "add", "sub", "mul", "div_s", "div_u", "rem_s", "rem_u", "and", "or", "xor", "shl", "shr_s", "shr_u",
            "rotl", "rotr")]
        table += [Instruction(f"{t}.{op}", (t, t), ("i32",)) for op in (
            "eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u")]
    table.append(Instruction("i64.extend32_s", ("i64",), ("i64",)))
    for t in FLOAT:
        table += [Instruction(f"{t}.{op}", (t,), (t,)) for op in ("abs", "neg", "ceil", "floor", "trunc", "nearest", "sqrt")]
        table += [Instruction(f"{t}.{op}", (t, t), (t,)) for op in ("add", "sub", "mul", "div", "min", "max", "copysign")]
        table += [Instruction(f"{t}.{op}", (t, t), ("i32",)) for op in ("eq", "ne", "lt", "gt", "le", "ge")]
    table += [
        Instruction("i32.wrap_i64", ("i64",), ("i32",)),
        Instruction("i64.extend_i32_s", ("i32",), ("i64",)),
        Instruction("i64.extend_i32_u", ("i32",), ("i64",)),
        Instruction("f32.demote_f64", ("f64",), ("f32",)),
        Instruction("f64.promote_f32", ("f32",), ("f64",)),
        Instruction("i32.reinterpret_f32", ("f32",), ("i32",)),
        Instruction("i64.reinterpret_f64", ("f64",), ("i64",)),
        Instruction("f32.reinterpret_i32", ("i32",), ("f32",)),
        Instruction("f64.reinterpret_i64", ("i64",), ("f64",)),
    ]
    for i in INT:
        for f in FLOAT:
            for sign in ("s", "u"):
                table.append(Instruction(f"{i}.trunc_{f}_{sign}", (f,), (i,)))
                table.append(Instruction(f"{i}.trunc_sat_{f}_{sign}", (f,), (i,)))
                table.append(Instruction(f"{f}.convert_{i}_{sign}", (i,), (f,)))
    table.append(Instruction("select", ("i64", "i64", "i32"), ("i64",)))
    return table


def _memory() -> list[Instruction]:
    table: list[Instruction] = []
    loads = {"i32": ("load", "load8_s", "load8_u", "load16_s", "load16_u"),
             "i64": ("load", "load8_s", "load8_u", "load16_s", "load16_u", "load32_s", "load32_u"),
             "f32": ("load",), "f64": ("load",)}
    width = {"load": None, "load8_s": 0, "load8_u": 0, "load16_s": 1, "load16_u": 1, "load32_s": 2, "load32_u": 2,
             "store": None, "store8": 0, "store16": 1, "store32": 2}
    natural = {"i32": 2, "i64": 3, "f32": 2, "f64": 3}
    for t, ops in loads.items():
        for op in ops:
            table.append(Instruction(f"{t}.{op}", ("i32",), (t,), "memarg", align_max=width[op] or natural[t]))
    stores = {"i32": ("store", "store8", "store16"), "i64": ("store", "store8", "store16", "store32"),
              "f32": ("store",), "f64": ("store",)}
    for t, ops in stores.items():
        for op in ops:
            table.append(Instruction(f"{t}.{op}", ("i32", t), (), "memarg", align_max=width[op] or natural[t]))
    table += [
        Instruction("memory.size", (), ("i32",)),
        Instruction("memory.grow", ("i32",), ("i32",)),
        Instruction("memory.fill", ("i32", "i32", "i32"), ()),
        Instruction("memory.copy", ("i32", "i32", "i32"), ()),
    ]
    table += [Instruction(f"v128.{op}", ("i32",), ("v128",), "memarg", align_max=a) for op, a in (
        ("load", 4), ("load8x8_s", 3), ("load8x8_u", 3), ("load16x4_s", 3), ("load16x4_u", 3), ("load32x2_s", 3),
        ("load32x2_u", 3), ("load8_splat", 0), ("load16_splat", 1), ("load32_splat", 2), ("load64_splat", 3),
        ("load32_zero", 2), ("load64_zero", 3))]
    table.append(Instruction("v128.store", ("i32", "v128"), (), "memarg", align_max=4))
    return table


def _simd() -> list[Instruction]:
    table: list[Instruction] = []
    shapes = {"i8x16": 16, "i16x8": 8, "i32x4": 4, "i64x2": 2, "f32x4": 4, "f64x2": 2}
    scalar = {"i8x16": "i32", "i16x8": "i32", "i32x4": "i32", "i64x2": "i64", "f32x4": "f32", "f64x2": "f64"}
    vv = ("v128", "v128")
    for shape, lanes in shapes.items():
        table.append(Instruction(f"{shape}.splat", (scalar[shape],), ("v128",)))
        suffixes = ("_s", "_u") if shape in ("i8x16", "i16x8") else ("",)
        table += [Instruction(f"{shape}.extract_lane{s}", ("v128",), (scalar[shape],), "lane", lanes) for s in suffixes]
        table.append(Instruction(f"{shape}.replace_lane", ("v128", scalar[shape]), ("v128",), "lane", lanes))
    for shape in ("i8x16", "i16x8", "i32x4"):
        table += [Instruction(f"{shape}.{op}", vv, ("v128",)) for op in (
            "eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u", "add", "sub", "min_s", "min_u",
            "max_s", "max_u")]
    table += [Instruction(f"i64x2.{op}", vv, ("v128",)) for op in ("eq", "ne", "lt_s", "gt_s", "le_s", "ge_s", "add", "sub", "mul")]
    for shape in ("i8x16", "i16x8"):
        table += [Instruction(f"{shape}.{op}", vv, ("v128",)) for op in ("add_sat_s", "add_sat_u", "sub_sat_s", "sub_sat_u", "avgr_u")]
    table += [Instruction(f"{op}", vv, ("v128",)) for op in (
        "i8x16.swizzle", "i8x16.narrow_i16x8_s", "i8x16.narrow_i16x8_u", "i16x8.narrow_i32x4_s", "i16x8.narrow_i32x4_u",
        "i16x8.mul", "i32x4.mul", "i16x8.q15mulr_sat_s", "i32x4.dot_i16x8_s",
        "i16x8.extmul_low_i8x16_s", "i16x8.extmul_high_i8x16_s", "i16x8.extmul_low_i8x16_u", "i16x8.extmul_high_i8x16_u",
        "i32x4.extmul_low_i16x8_s", "i32x4.extmul_high_i16x8_s", "i32x4.extmul_low_i16x8_u", "i32x4.extmul_high_i16x8_u",
        "i64x2.extmul_low_i32x4_s", "i64x2.extmul_high_i32x4_s", "i64x2.extmul_low_i32x4_u", "i64x2.extmul_high_i32x4_u",
        "v128.and", "v128.andnot", "v128.or", "v128.xor")]
    for shape in ("i8x16", "i16x8", "i32x4", "i64x2"):
        table += [Instruction(f"{shape}.{op}", ("v128",), ("v128",)) for op in ("abs", "neg")]
        table += [Instruction(f"{shape}.{op}", ("v128", "i32"), ("v128",)) for op in ("shl", "shr_s", "shr_u")]
        table += [Instruction(f"{shape}.{op}", ("v128",), ("i32",)) for op in ("all_true", "bitmask")]
    table += [Instruction(op, ("v128",), ("v128",)) for op in (
        "v128.not", "i8x16.popcnt", "i16x8.extadd_pairwise_i8x16_s", "i16x8.extadd_pairwise_i8x16_u",
        "i32x4.extadd_pairwise_i16x8_s", "i32x4.extadd_pairwise_i16x8_u",
        "i16x8.extend_low_i8x16_s", "i16x8.extend_high_i8x16_s", "i16x8.extend_low_i8x16_u", "i16x8.extend_high_i8x16_u",
        "i32x4.extend_low_i16x8_s", "i32x4.extend_high_i16x8_s", "i32x4.extend_low_i16x8_u", "i32x4.extend_high_i16x8_u",
        "i64x2.extend_low_i32x4_s", "i64x2.extend_high_i32x4_s", "i64x2.extend_low_i32x4_u", "i64x2.extend_high_i32x4_u",
        "i32x4.trunc_sat_f32x4_s", "i32x4.trunc_sat_f32x4_u", "i32x4.trunc_sat_f64x2_s_zero", "i32x4.trunc_sat_f64x2_u_zero")]
    table.append(Instruction("v128.any_true", ("v128",), ("i32",)))
    table.append(Instruction("v128.bitselect", ("v128", "v128", "v128"), ("v128",)))
    table.append(Instruction("i8x16.shuffle", vv, ("v128",), "shuffle"))
    for shape in ("f32x4", "f64x2"):
        table += [Instruction(f"{shape}.{op}", ("v128",), ("v128",)) for op in (
            "abs", "neg", "sqrt", "ceil", "floor", "trunc", "nearest")]
        table += [Instruction(f"{shape}.{op}", vv, ("v128",)) for op in (
            "add", "sub", "mul", "div", "min", "max", "pmin", "pmax", "eq", "ne", "lt", "gt", "le", "ge")]
    table += [Instruction(op, ("v128",), ("v128",)) for op in (
        "f32x4.demote_f64x2_zero", "f64x2.promote_low_f32x4", "f32x4.convert_i32x4_s", "f32x4.convert_i32x4_u",
        "f64x2.convert_low_i32x4_s", "f64x2.convert_low_i32x4_u")]
    return table


INSTRUCTIONS: tuple[Instruction, ...] = (*_scalar(), *_memory(), *_simd())
"""Every instruction the campaign aims at."""

BY_NAME = {i.name: i for i in INSTRUCTIONS}


@dataclass(frozen=True)
class InstructionCase:
    """One instruction with its immediates chosen: a lane, a shuffle pattern, or an offset and alignment."""

    instruction: Instruction
    lane: int = 0
    shuffle: tuple[int, ...] = ()
    offset: int = 0
    align: int = 0

    def immediates(self) -> str:
        """The instruction's immediates in text format."""
        kind = self.instruction.immediate
        if kind == "lane":
            return f" {self.lane}"
        if kind == "shuffle":
            return " " + " ".join(str(i) for i in self.shuffle)
        if kind == "memarg":
            return f" offset={self.offset} align={1 << self.align}"
        return ""

    def boundary_params(self) -> list[str]:
        """The function's parameters: each v128 operand becomes two i64s."""
        params: list[str] = []
        for p in self.instruction.params:
            params += ["i64", "i64"] if p == "v128" else [p]
        return params

    def boundary_results(self) -> list[str]:
        """The function's results: a v128 result becomes two i64s."""
        results: list[str] = []
        for r in self.instruction.results:
            results += ["i64", "i64"] if r == "v128" else [r]
        return results

    def func(self, index: int) -> str:
        """The exported function ``f<index>`` running this instruction on its parameters."""
        body: list[str] = []
        local = 0
        for p in self.instruction.params:
            if p == "v128":
                body.append(f"(i64x2.replace_lane 1 (i64x2.splat (local.get {local})) (local.get {local + 1}))")
                local += 2
            else:
                body.append(f"(local.get {local})")
                local += 1
        text = f"({self.instruction.name}{self.immediates()} {' '.join(body)})"
        results = self.instruction.results
        params = " ".join(self.boundary_params())
        if results == ("v128",):
            canonical = _canonicalise(self.instruction.name, "(local.get $v)")
            body_text = (f"(local.set $v {text}) (local.set $v {canonical}) "
                         "(i64x2.extract_lane 0 (local.get $v)) (i64x2.extract_lane 1 (local.get $v))")
            return (f'(func (export "f{index}") (param {params}) (result i64 i64) (local $v v128) {body_text})')
        if len(results) == 1 and results[0] in ("f32", "f64") and _bit_exact(self.instruction.name):
            # the spec defines these bit for bit, NaNs included: return the bits, so that the
            # nan-payload normalisation of float results cannot hide a wrong sign or payload
            integer = "i32" if results[0] == "f32" else "i64"
            return (f'(func (export "f{index}") (param {params}) (result {integer}) '
                    f"({integer}.reinterpret_{results[0]} {text}))")
        return f'(func (export "f{index}") (param {params}) (result {" ".join(results)}) {text})'


def _bit_exact(name: str) -> bool:
    """True for float instructions whose result bits the spec fixes exactly, NaN payloads included."""
    return name.endswith((".abs", ".neg", ".copysign", ".load", "reinterpret_i32", "reinterpret_i64", "extract_lane"))


def _canonicalise(name: str, value: str) -> str:
    """``value`` with NaN lanes made canonical, for instructions with float lanes that may produce NaNs."""
    shape = name.split(".")[0]
    arithmetic = not name.endswith(("abs", "neg", "eq", "ne", "lt", "gt", "le", "ge"))
    if shape in ("f32x4", "f64x2") and arithmetic:
        nan = "v128.const i32x4 0x7fc00000 0x7fc00000 0x7fc00000 0x7fc00000" if shape == "f32x4" else \
              "v128.const i64x2 0x7ff8000000000000 0x7ff8000000000000"
        return f"(v128.bitselect {value} ({nan}) ({shape}.eq {value} {value}))"
    return value


MEMORY_PAGES = (1, 3)
"""The test module's memory: one page, growable to three."""


def module_text(cases: Sequence[InstructionCase], data: bytes = b"") -> str:
    """A module with one exported function per case, an exported memory (filled with ``data``) and a global."""
    lines = ["(module", f'  (memory (export "memory") {MEMORY_PAGES[0]} {MEMORY_PAGES[1]})']
    if data:
        escaped = "".join(f"\\{b:02x}" for b in data)
        lines.append(f'  (data (i32.const 0) "{escaped}")')
    lines += [f"  {case.func(index)}" for index, case in enumerate(cases)]
    lines.append(")")
    return "\n".join(lines)
