"""The memory.grow rewriter of the wasmtime backend: decoding, rewriting, and falling back safely."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import wat_to_wasm

pytest.importorskip("wasmtime", reason="the production backend needs wasmtime")

import wasmtime
from sysinspect_wasm_production.instrument import instrument

from sysinspect_wasm.opcodes import find_memory_grows, skip_instruction
from sysinspect_wasm.wasmbinary import (
    SECTION_CODE,
    DecodeError,
    encode_s,
    encode_u,
    read_layout,
    read_u,
    section_bytes,
    skip_leb,
    skip_valtype,
)

WASM_TOOLS = shutil.which("wasm-tools") or shutil.which("wasm-tools", path=str(Path(sys.executable).parent))
needs_wasm_tools = pytest.mark.skipif(WASM_TOOLS is None, reason="wasm-tools (a dev dependency) is not installed")


def bodies(wasm: bytes) -> list[tuple[int, int]]:
    """(first instruction, end) of every function body."""
    code = read_layout(wasm).section(SECTION_CODE)
    if code is None:
        return []
    count, pos = read_u(wasm, code.payload_start)
    found = []
    for _ in range(count):
        size, start = read_u(wasm, pos)
        groups, cursor = read_u(wasm, start)
        for _ in range(groups):
            cursor = skip_valtype(wasm, skip_leb(wasm, cursor))
        found.append((cursor, start + size))
        pos = start + size
    return found


def grow_offsets(wasm: bytes, *, fast: bool) -> list[int]:
    return [at for start, end in bodies(wasm) for at, _, _ in find_memory_grows(wasm, start, end, fast=fast)]


def instruction_starts(wasm: bytes) -> list[int]:
    """Every instruction's offset, by the complete (slow) decoder alone."""
    starts = []
    for pos, end in bodies(wasm):
        while pos < end:
            starts.append(pos)
            pos = skip_instruction(wasm, pos)
        assert pos == end
    return starts


# -- LEB128 -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, 63, 64, 127, 128, 300, 2**31 - 1, 2**32 - 1, 2**48])
def test_unsigned_leb_round_trips(value: int) -> None:
    data = encode_u(value)
    assert read_u(data, 0) == (value, len(data))
    assert skip_leb(data, 0) == len(data)


@pytest.mark.parametrize(("value", "encoded"), [(0, b"\x00"), (-1, b"\x7f"), (63, b"\x3f"), (64, b"\xc0\x00"),
                                                 (-64, b"\x40"), (-65, b"\xbf\x7f"), (2**48, b"\x80\x80\x80\x80\x80\x80\xc0\x00")])
def test_signed_leb_encoding(value: int, encoded: bytes) -> None:
    assert encode_s(value) == encoded


def test_truncated_input_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        read_u(b"\x80\x80", 0)
    with pytest.raises(DecodeError):
        skip_leb(b"\xff", 0)


# -- rewriting ------------------------------------------------------------------------

GROWING = """(module
  (import "env" "f" (func $imported))
  (memory $small 1 4)
  (memory $wide i64 1)
  (func $a (param i32) (result i32) (memory.grow $small (local.get 0)))
  (func $b (result i64) (drop (memory.grow $small (i32.const 0))) (memory.grow $wide (i64.const 2)))
  (func $c (result i32) (memory.size))
  (func $d (param i32) (result i32) (block (result i32) (memory.grow $small (local.get 0)))))"""


def test_every_grow_becomes_a_call_to_a_guard_at_the_end() -> None:
    wasm = wat_to_wasm(GROWING)
    result = instrument(wasm)
    assert result.instrumented and result.note == ""
    # one import and four defined functions: guards get indices 5 (memory 0) and 6 (memory 1)
    assert result.guards == frozenset({5, 6})
    assert grow_offsets(result.wasm, fast=True) == grow_offsets(result.wasm, fast=False)
    assert len(grow_offsets(result.wasm, fast=False)) == 2  # only the guards' own grows remain
    wasmtime.Module.validate(wasmtime.Engine(), result.wasm)
    layout = read_layout(result.wasm)
    assert (layout.defined_funcs, layout.type_count) == (6, read_layout(wasm).type_count + 2)


def test_a_module_without_memory_grow_is_left_as_it_is() -> None:
    wasm = wat_to_wasm('(module (memory 1) (func (export "f") (result i32) (memory.size)))')
    result = instrument(wasm)
    assert result.wasm is wasm and result.guards == frozenset() and result.instrumented
    assert result.initial_pages == 1


def test_offset_metadata_sections_are_dropped_and_other_custom_sections_kept() -> None:
    wasm = wat_to_wasm('(module (memory 1) (func (drop (memory.grow (i32.const 1)))))')
    wasm += section_bytes(0, encode_u(len(b"metadata.code.branch_hint")) + b"metadata.code.branch_hint" + b"\x00")
    wasm += section_bytes(0, b"\x04keep" + b"data")
    result = instrument(wasm)
    assert result.instrumented
    assert b"metadata.code.branch_hint" not in result.wasm
    assert b"\x04keepdata" in result.wasm


def test_compact_import_groups_are_understood() -> None:
    # an import entry with a shared type (0x7e): two memories "a" and "b" from "env"
    group = b"\x03env" + b"\x00\x7e" + b"\x02\x00\x01" + b"\x02\x01a\x01b"
    wasm = b"\x00asm\x01\x00\x00\x00" + section_bytes(2, b"\x01" + group)
    wasmtime.Module.validate(wasmtime.Engine(), wasm)
    memories = read_layout(wasm).memories
    assert [(m.minimum, m.imported) for m in memories] == [(1, True), (1, True)]


def test_what_cannot_be_decoded_is_returned_unchanged_with_a_note() -> None:
    for junk in (b"", b"not wasm", b"\x00asm\x02\x00\x00\x00"):
        result = instrument(junk)
        assert result.wasm is junk and not result.instrumented and result.note
    # a code section holding an opcode that does not exist
    wasm = wat_to_wasm("(module (memory 1) (func (drop (memory.grow (i32.const 1)))))")
    broken = wasm.replace(b"\x40\x00", b"\xe7\x00")
    result = instrument(broken)
    assert result.wasm is broken and "code not understood" in result.note and result.initial_pages == 1


# -- the decoder against wasm-tools, on generated modules ----------------------------------

SMITH_FEATURES = [
    "--simd-enabled", "true", "--relaxed-simd-enabled", "true", "--bulk-memory-enabled", "true",
    "--reference-types-enabled", "true", "--tail-call-enabled", "true", "--multi-value-enabled", "true",
    "--exceptions-enabled", "true", "--gc-enabled", "true", "--threads-enabled", "true",
    "--memory64-enabled", "true", "--max-memories", "3", "--wide-arithmetic-enabled", "true",
    "--extended-const-enabled", "true", "--saturating-float-to-int-enabled", "true",
    "--sign-extension-ops-enabled", "true", "--min-funcs", "1", "--max-instructions", "3000",
]
GROW_LINE = re.compile(r"^\s*0x([0-9a-f]+) \|[^|]*\| memory_grow", re.M)
INSTRUCTION_LINE = re.compile(r"^\s*0x([0-9a-f]+) \| ")
NEXT_SECTION = re.compile(r"^.*\| [\w ]*section\s*$", re.M)


def generated_modules(count: int, seed: int) -> list[bytes]:
    assert WASM_TOOLS is not None
    rng = random.Random(seed)
    modules = []
    for _ in range(count):
        # --min-uleb-size writes over-long LEB128 numbers, which the fast path must hand over
        uleb = ["--min-uleb-size", str(rng.choice([1, 1, 2, 5]))]
        done = subprocess.run([WASM_TOOLS, "smith", *SMITH_FEATURES, *uleb], input=rng.randbytes(rng.choice([500, 3000, 8000])),
                              capture_output=True, check=True)
        modules.append(done.stdout)
    return modules


def dump_code_offsets(wasm: bytes) -> tuple[list[int], list[int]]:
    """(every instruction offset, every memory.grow offset) in the code section, as wasm-tools dump sees them."""
    assert WASM_TOOLS is not None
    text = subprocess.run([WASM_TOOLS, "dump", "-"], input=wasm, capture_output=True, check=True).stdout.decode()
    code = ""
    if "| code section" in text:
        code = text[text.index("| code section"):]
        after = NEXT_SECTION.search(code, code.index("\n"))
        code = code[: after.start()] if after else code
    instructions = []
    for block in code.split("==============")[1:]:
        for line in block.splitlines():
            match = INSTRUCTION_LINE.match(line)
            if match and "size of function" not in line and "local blocks" not in line and "locals of type" not in line:
                instructions.append(int(match.group(1), 16))
    grows = [int(m.group(1), 16) for m in GROW_LINE.finditer(code)]
    return instructions, grows


@needs_wasm_tools
@pytest.mark.slow
def test_decoder_matches_wasm_tools_on_generated_modules() -> None:
    engine = wasmtime.Engine()
    grows_seen = 0
    for wasm in generated_modules(60, seed=20240601):
        wasmtime.Module.validate(engine, wasm)
        expected_instructions, expected_grows = dump_code_offsets(wasm)
        assert instruction_starts(wasm) == expected_instructions
        assert grow_offsets(wasm, fast=True) == expected_grows
        assert grow_offsets(wasm, fast=False) == expected_grows
        result = instrument(wasm)
        assert result.instrumented, result.note
        wasmtime.Module.validate(engine, result.wasm)
        assert grow_offsets(result.wasm, fast=True) == grow_offsets(result.wasm, fast=False)
        # after rewriting, the only grows left are the guards' own
        assert len(grow_offsets(result.wasm, fast=True)) == len(result.guards)
        grows_seen += len(expected_grows)
    assert grows_seen > 0


@pytest.mark.parametrize("seed", range(3))
def test_fast_and_slow_decoders_agree_on_random_instruction_streams(seed: int) -> None:
    # The fast path must never take another route than the complete decoder:
    # whenever both decode arbitrary bytes, they find the same memory.grow offsets.
    rng = random.Random(seed)
    for _ in range(300):
        data = bytes(rng.choice([0x20, 0x40, 0x00, 0x41, 0xFD, 0xFC, 0x28, 0x0B, 0x80, 0xFF, rng.randrange(256)])
                     for _ in range(rng.randrange(1, 40)))
        outcomes: list[list[int] | None] = []
        for fast in (True, False):
            try:
                outcomes.append([a for a, _, _ in find_memory_grows(data, 0, len(data), fast=fast)])
            except DecodeError:
                outcomes.append(None)
        # (the fast path may accept an unassigned SIMD opcode that the complete decoder refuses;
        # valid modules never hold one)
        if None not in outcomes:
            assert outcomes[0] == outcomes[1], data.hex()


def test_a_large_module_is_rewritten() -> None:
    functions = "\n".join(
        f"(func $f{i} (param i32) (result i32) (local i64 f32) (block (loop (br_if 1 (i32.eqz (local.get 0)))"
        f" (drop (i32.load offset={i} (local.get 0))) (drop (memory.grow (i32.const {i % 3})))"
        f" (local.set 0 (i32.sub (local.get 0) (i32.const 1))) (br 0))) (local.get 0))"
        for i in range(3000)
    )
    wasm = wat_to_wasm(f"(module (memory 1) {functions})")
    result = instrument(wasm)
    assert result.instrumented and result.guards == frozenset({3000})
    wasmtime.Module.validate(wasmtime.Engine(), result.wasm)
    assert grow_offsets(result.wasm, fast=True) == grow_offsets(result.wasm, fast=False)


SUITE = Path(__file__).parent / "data" / "wasi-testsuite"
REAL_MODULES = sorted(SUITE.glob("*/*.wasm")) + sorted((Path(__file__).parent.parent / "corpus").glob("**/*.wasm"))


def test_real_compiler_output_is_instrumented() -> None:
    # C (wasi-libc), AssemblyScript and Rust std builds from the WASI test suite, and our corpus
    assert REAL_MODULES
    engine = wasmtime.Engine()
    rewritten = 0
    for path in REAL_MODULES:
        wasm = path.read_bytes()
        try:
            wasmtime.Module.validate(engine, wasm)
        except wasmtime.WasmtimeError:
            continue  # the corpus keeps deliberately broken modules too
        result = instrument(wasm)
        assert result.instrumented, f"{path.name}: {result.note}"
        if result.guards:
            rewritten += 1
            wasmtime.Module.validate(engine, result.wasm)
    assert rewritten > 0


@needs_wasm_tools
@pytest.mark.parametrize("name", ["c/pread-with-access.wasm", "assemblyscript/fd_write-to-stdout.wasm", "rust/stdio.wasm"])
def test_decoder_matches_wasm_tools_on_real_modules(name: str) -> None:
    wasm = (SUITE / name).read_bytes()
    expected_instructions, expected_grows = dump_code_offsets(wasm)
    assert instruction_starts(wasm) == expected_instructions
    assert grow_offsets(wasm, fast=True) == expected_grows
