"""The instruction sweep: every instruction of :mod:`.instructions` on every combination of edge-case operands.

Hypothesis finds what nobody thought of; this sweep makes sure that what
everybody knows is hard (signed zeros, NaNs, rounding ties, the top bit of
an unsigned number, the last byte of memory, every SIMD lane shape) is
tried on every instruction in every CI run, in a few seconds. Operands are
fixed lists, so a failure always reproduces.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import random
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from sysinspect_wasm.result import Value
from sysinspect_wasm.spec import Limits

from .campaign import Divergence, Tally
from .compare import Comparison, compare_traces
from .harness import DEFAULT_BACKENDS, ModulePair
from .instructions import INSTRUCTIONS, Instruction, InstructionCase, module_text
from .smith import from_wat
from .strategies import FLOAT_EDGES, INT_EDGES, OFFSET_EDGES

EXTRA_CALLS = 24
"""Operand combinations beyond the full product of the core edge values, sampled, per instruction case."""

MEMORY_PATTERN = bytes(range(1, 65)) + bytes([0xFF, 0x80, 0x7F, 0x00] * 8)
"""What the sweep module's memory starts with: distinct bytes, so that misplaced loads show."""

CORE: dict[str, tuple[int, ...]] = {
    "i32": (0, 1, 2, 31, 32, 0xFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFE, 0xFFFF_FFFF),
    "i64": (0, 1, 2, 63, 64, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFE,
            0xFFFF_FFFF_FFFF_FFFF, 0x1_0000_0000),
    "f32": FLOAT_EDGES["f32"],
    "f64": FLOAT_EDGES["f64"],
}
"""Every pair of these is tried: the values where integer and IEEE semantics are subtle."""

ADDRESSES = (0, 1, 8, 65528, 65532, 65535, 65536, 0xFFFF_FFFF)
"""Addresses for memory instructions: the start, the last bytes of the first page, far beyond."""

_LANE_EDGES = {
    "i8x16": (0, 1, 0x7F, 0x80, 0xFF, 0xFE),
    "i16x8": (0, 1, 0x7FFF, 0x8000, 0xFFFF, 0x00FF),
    "i32x4": (0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x4F00_0000),
    "i64x2": (0, 1, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF),
    "f32x4": FLOAT_EDGES["f32"],
    "f64x2": FLOAT_EDGES["f64"],
}
_LANE_BITS = {"i8x16": 8, "i16x8": 16, "i32x4": 32, "i64x2": 64, "f32x4": 32, "f64x2": 64}


def vectors(shape: str) -> list[int]:
    """128-bit operands for lane shape ``shape``: its edge values in every rotation across the lanes.

    Every rotation (not only every other one) so that two operands drawn
    from this list meet every ordered pair of edge values in some lane,
    e.g. +0 against -0 and -0 against +0.
    """
    edges = _LANE_EDGES[shape]
    bits = _LANE_BITS[shape]
    result = []
    for start in range(len(edges)):
        value = 0
        for lane in range(128 // bits):
            value |= edges[(start + lane) % len(edges)] << (lane * bits)
        result.append(value)
    return result


def operand_shape(name: str) -> str | None:
    """The lane shape of a SIMD instruction's operands: the last shape its name mentions (``i32x4.trunc_sat_f32x4_s``: f32x4)."""
    shapes = [token for token in name.replace(".", "_").split("_") if token in _LANE_BITS]
    return shapes[-1] if shapes else None


def _scalar_extras(kind: str, rng: random.Random) -> list[int]:
    width = 32 if kind in ("i32", "f32") else 64
    values: list[int] = list(INT_EDGES.get(kind, ()))
    if kind in ("f32", "f64"):
        fmt, ifmt = ("<f", "<I") if kind == "f32" else ("<d", "<Q")
        # ties and near-ties for rounding, values just past the integer ranges for truncation
        for number in (0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997, -0.7, 4503599627370497.0, 2.0**31, -(2.0**31) - 1,
                       2.0**32, 2.0**63, -(2.0**63), 2.0**64, 1e-40, -1e-40, 3.4e38, 1e300):
            try:
                values.append(struct.unpack(ifmt, struct.pack(fmt, number))[0])
            except OverflowError:
                continue
    else:
        # values that need more than 24 or 53 bits: where int-to-float conversion must round once, correctly
        values += [0x0100_0001, 0x7FFF_FFC0, 0x8000_0080]
        if kind == "i64":
            values += [0x0020_0000_2000_0001, 0x7FFF_FFFF_FFFF_FC00, 0xFFFF_FFFF_FFFF_F800, 0x8000_0400_0000_0001]
    values += [rng.getrandbits(width) for _ in range(4)]
    return [v & ((1 << width) - 1) for v in values]


Choice = tuple[Value, ...]


def _choices(kind: str, name: str, position: int, rng: random.Random) -> tuple[list[Choice], list[Choice]]:
    """Core and extra operand choices for one parameter (each choice is its boundary values)."""
    if kind == "v128":
        shape = operand_shape(name)
        core_vectors = vectors(shape) if shape else [v for s in _LANE_BITS for v in vectors(s)[:2]]
        extra_vectors = [v for s in _LANE_BITS for v in vectors(s)] + [rng.getrandbits(128) for _ in range(6)]

        def halves(values: list[int]) -> list[Choice]:
            return [(Value("i64", v & (2**64 - 1)), Value("i64", v >> 64)) for v in values]

        return halves(core_vectors), halves(extra_vectors)
    if kind == "i32" and position == 0 and ("load" in name or "store" in name or name.startswith("memory.")):
        core = list(ADDRESSES)
    else:
        core = list(CORE[kind])
    return [(Value(kind, v),) for v in core], [(Value(kind, v),) for v in _scalar_extras(kind, rng)]


def _operands(case: InstructionCase, rng: random.Random) -> Iterator[list[Value]]:
    name = case.instruction.name
    choices = [_choices(kind, name, i, rng) for i, kind in enumerate(case.instruction.params)]
    core: list[tuple[Choice, ...]]
    if len(choices) == 1:
        core = [(choice,) for choice in choices[0][0] + choices[0][1]]
    elif len(choices) == 2:
        core = list(itertools.product(*(c for c, _ in choices)))
    else:
        product = list(itertools.product(*(c for c, _ in choices)))
        core = rng.sample(product, min(len(product), 100))
    everything = [c + e for c, e in choices]
    extra = [tuple(rng.choice(options) for options in everything) for _ in range(EXTRA_CALLS)]
    for combination in dict.fromkeys(core + extra):
        yield [value for group in combination for value in group]


def immediate_choices(instruction: Instruction, rng: random.Random) -> list[InstructionCase]:
    """The immediates tried for one instruction: first and last lane, a few shuffles, edge offsets and alignments."""
    if instruction.immediate == "lane":
        return [InstructionCase(instruction, lane=lane) for lane in sorted({0, 1, instruction.lanes - 1})]
    if instruction.immediate == "shuffle":
        patterns = [tuple(range(16)), tuple(range(31, 15, -1)), tuple(rng.randrange(32) for _ in range(16))]
        return [InstructionCase(instruction, shuffle=p) for p in patterns]
    if instruction.immediate == "memarg":
        return [InstructionCase(instruction, offset=offset, align=align)
                for offset, align in ((0, 0), (1, instruction.align_max), (65535, 0), (OFFSET_EDGES[-1], 0))]
    return [InstructionCase(instruction)]


@dataclass
class SweepResult:
    """One instruction case swept: how many calls, and the comparison."""

    case: InstructionCase
    calls: int
    comparison: Comparison


def _changes_state(instruction: Instruction) -> bool:
    name = instruction.name
    return ".store" in name or name in ("memory.grow", "memory.fill", "memory.copy")


def sweep_case(case: InstructionCase, backends: Sequence[str] = DEFAULT_BACKENDS, seed: int = 0) -> SweepResult:
    """Call one instruction case on every operand combination on both backends, in lockstep.

    Instructions that change memory get a fresh instance per call, so that
    every call is independent of the ones before it.
    """
    rng = random.Random(f"{case.instruction.name}/{seed}")
    wasm = from_wat(module_text([case], MEMORY_PATTERN))
    pair = ModulePair(wasm, f"sweep-{case.instruction.name}", backends)
    merged = Comparison(pair.backend_names[0], pair.backend_names[1])
    fresh = _changes_state(case.instruction)
    limits = Limits(timeout=30)
    driver = pair.instantiate(limits)
    calls = 0
    for args in _operands(case, rng):
        if not driver.ready:
            break
        if fresh and calls:
            driver = pair.instantiate(limits)
        driver.call("f0", args)
        calls += 1
        comparison = compare_traces(driver.traces[0], driver.traces[1], driver.steps)
        driver.traces[0].calls.clear()
        driver.traces[1].calls.clear()
        driver.steps.clear()
        merged.differences += comparison.differences
        for normalisation in comparison.normalised:
            merged.applied(normalisation)
    if not driver.ready:
        comparison = compare_traces(driver.traces[0], driver.traces[1])
        merged.differences += comparison.differences
    return SweepResult(case, calls, merged)


def sweep(instruction: Instruction, backends: Sequence[str] = DEFAULT_BACKENDS, seed: int = 0) -> list[SweepResult]:
    """Sweep every immediate choice of ``instruction``."""
    rng = random.Random(f"immediates/{instruction.name}/{seed}")
    return [sweep_case(case, backends, seed) for case in immediate_choices(instruction, rng)]


def sweep_campaign(instructions: Sequence[Instruction] | None = None, backends: Sequence[str] = DEFAULT_BACKENDS,
                   progress: Callable[[Tally], None] | None = None) -> Tally:
    """The sweep of every instruction as one campaign tally: one example per instruction case."""
    tally = Tally("instruction sweep", progress=progress)
    started = time.monotonic()
    for instruction in instructions if instructions is not None else INSTRUCTIONS:
        for result in sweep(instruction, backends):
            text = f"{instruction.name}{result.case.immediates()}: {result.calls} operand combinations"
            with contextlib.suppress(Divergence):  # recorded in the tally
                tally.check(result.comparison, functools.partial(str, text))
    tally.elapsed = time.monotonic() - started
    return tally
