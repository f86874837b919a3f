"""The differential harness's own parts: normalisations, comparator, responder, strategies, readers."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from conftest import wat_to_wasm
from hypothesis import given, settings
from sysinspect_wasm_differential.compare import (
    CallOutcome,
    InstanceTrace,
    RunObservation,
    compare_runs,
    compare_traces,
)
from sysinspect_wasm_differential.filetree import DIRECTORY, FileTree, Symlink, materialise, snapshot
from sysinspect_wasm_differential.findings import FINDINGS, Assertion, instructions_in, load_regression, parse_value
from sysinspect_wasm_differential.harness import CommandCase
from sysinspect_wasm_differential.header import guest_input
from sysinspect_wasm_differential.instructions import INSTRUCTIONS, InstructionCase, module_text
from sysinspect_wasm_differential.normalise import (
    CANONICAL_NAN,
    LOG_TIMESTAMP,
    NAN_PAYLOAD,
    NORMALISATIONS,
    STACK_OVERFLOW_DEPTH,
    TIMEOUT,
    VOLATILE_OUTPUT,
    Normalisation,
    Volatility,
    canonical_value,
    is_nan,
    normalise_log_line,
)
from sysinspect_wasm_differential.responder import UNKNOWN_ANSWER, RecordedResponder, Tape, command_key
from sysinspect_wasm_differential.smith import SmithConfig, from_wat
from sysinspect_wasm_differential.strategies import command_cases, json_values, wasm_values
from sysinspect_wasm_differential.sweep import immediate_choices
from sysinspect_wasm_differential.wasminfo import export_types, exports_carry, is_command

from sysinspect_wasm import HostCall, RunResult, Trap, TrapKind, Value
from sysinspect_wasm.commands import CommandOutcome
from sysinspect_wasm.jsonio import loads_serde

QUICK = settings(max_examples=40, deadline=None, database=None)


def observation(name: str = "left", *, exit_code: int | None = 0, stdout: bytes = b"", stderr: bytes = b"",
                trap: Trap | None = None, logs: tuple[str, ...] = (), host_calls: tuple[HostCall, ...] = ()) -> RunObservation:
    result = RunResult(exit_code, stdout, stderr, trap, list(host_calls), list(logs))
    return RunObservation(name, result, {})


# -- normalisations -------------------------------------------------------------------


def test_every_normalisation_is_named_and_justified() -> None:
    names = [n.name for n in NORMALISATIONS]
    assert len(names) == len(set(names))
    for normalisation in NORMALISATIONS:
        assert normalisation.hides and len(normalisation.why) > 40, normalisation.name


def test_log_timestamps_are_the_only_part_of_a_log_line_normalised() -> None:
    line = "[24/11/2025 23:59:01] - INFO: [mod] took 12:00:00 on 01/01/2024"
    assert normalise_log_line(line) == "[time] - INFO: [mod] took 12:00:00 on 01/01/2024"
    assert normalise_log_line("no stamp [24/11/2025 23:59:01] - INFO") == "no stamp [24/11/2025 23:59:01] - INFO"


@pytest.mark.parametrize(("kind", "bits", "nan"), [
    ("f32", 0x7FC0_0000, True), ("f32", 0xFFA0_0001, True), ("f32", 0x7F80_0000, False), ("f32", 0x8000_0000, False),
    ("f64", 0x7FF0_0000_0000_0001, True), ("f64", 0xFFF0_0000_0000_0000, False), ("i32", 0x7FC0_0000, False),
])
def test_nan_recognition_and_canonicalisation(kind: str, bits: int, nan: bool) -> None:
    value = Value(kind, bits)
    assert is_nan(value) is nan
    assert canonical_value(value) == (Value(kind, CANONICAL_NAN[kind]) if nan else value)


def test_runs_that_agree_after_log_timestamps_are_named() -> None:
    left = observation("wasmtime", logs=("[01/01/2025 00:00:00] - INFO: [m] hi",))
    right = observation("pywasm", logs=("[01/01/2025 00:00:07] - INFO: [m] hi",))
    comparison = compare_runs(left, right)
    assert comparison.agree
    assert LOG_TIMESTAMP in comparison.normalised


def test_every_aspect_of_a_run_is_compared() -> None:
    left = observation("wasmtime", stdout=b"a", stderr=b"e", logs=("x",),
                       host_calls=(HostCall("header", (1, 2), None, b"{}", 2),))
    right = RunObservation("pywasm", RunResult(exit_code=None, stdout=b"b", stderr=b"f", logs=[], host_calls=[],
                                               trap=Trap(TrapKind.UNREACHABLE, "boom")), {"new": b"1"})
    comparison = compare_runs(left, right)
    assert {d.aspect for d in comparison.differences} == {
        "trap", "exit code", "stdout", "stderr", "logs", "host calls", "files"}
    assert comparison.signature() == "exit code+files+host calls+logs+stderr+stdout+trap"


def test_trap_messages_are_never_compared() -> None:
    left = observation("a", exit_code=None, trap=Trap(TrapKind.OUT_OF_BOUNDS, "wasm trap: out of bounds"))
    right = observation("b", exit_code=None, trap=Trap(TrapKind.OUT_OF_BOUNDS, "at i32.load (IndexError)"))
    assert compare_runs(left, right).agree


@pytest.mark.parametrize(("kind", "normalisation"), [(TrapKind.TIMEOUT, TIMEOUT), (TrapKind.STACK_OVERFLOW, STACK_OVERFLOW_DEPTH)])
def test_limits_hit_on_one_side_are_inconclusive_and_on_both_agree(kind: TrapKind, normalisation: Normalisation) -> None:
    limited = observation("a", exit_code=None, trap=Trap(kind), stdout=b"partial")
    finished = observation("b", stdout=b"everything")
    one_sided = compare_runs(limited, finished)
    assert one_sided.agree and not one_sided.conclusive and one_sided.poisoned is normalisation
    both = compare_runs(limited, observation("b", exit_code=None, trap=Trap(kind), stdout=b"less"))
    assert both.agree and both.conclusive and normalisation in both.normalised


def test_volatile_values_are_masked_by_pointer_or_by_structure() -> None:
    left = observation("a", stdout=b'{"ok":true,"random":"ab12","n":[1,{"t":5}]}')
    right = observation("b", stdout=b'{"ok":true,"random":"ffee","n":[1,{"t":9}]}')
    assert not compare_runs(left, right).agree
    by_pointer = compare_runs(left, right, Volatility("random", stdout_pointers=("/random", "/n/1/t")))
    assert by_pointer.agree and VOLATILE_OUTPUT in by_pointer.normalised
    assert compare_runs(left, right, Volatility("clock, random", structure=True)).agree
    # structure still tells a boolean or a missing key apart
    changed = observation("b", stdout=b'{"ok":false,"random":"ffee","n":[1,{"t":9}]}')
    assert not compare_runs(left, changed, Volatility("clock", structure=True)).agree


def test_instance_traces_compare_results_state_and_canonicalise_nans() -> None:
    nan_a, nan_b = Value("f32", 0x7FC0_0000), Value("f32", 0xFFC0_0001)
    left = InstanceTrace("wasmtime", calls=[CallOutcome((nan_a,), globals=(("g", Value.i32(1)),), memories=(("m", b"\0\1"),))])
    right = InstanceTrace("pywasm", calls=[CallOutcome((nan_b,), globals=(("g", Value.i32(2)),), memories=(("m", b"\0\2"),))])
    comparison = compare_traces(left, right, ["f()"])
    assert {d.aspect for d in comparison.differences} == {"global", "memory"}
    assert NAN_PAYLOAD in comparison.normalised


def test_a_backend_error_is_a_difference_of_its_own() -> None:
    left = InstanceTrace("wasmtime", calls=[CallOutcome((Value.i32(1),))])
    right = InstanceTrace("pywasm", calls=[CallOutcome(error="KeyError: 'x'")])
    assert [d.aspect for d in compare_traces(left, right).differences] == ["backend error"]


# -- responder --------------------------------------------------------------------------


def test_the_responder_answers_once_from_the_tape_and_never_runs_a_command() -> None:
    answer = CommandOutcome(0, "out", "")
    responder = RecordedResponder(Tape({command_key(["/bin/x"], None): answer}))
    assert responder(["/bin/x"], None, 1.0) == answer
    assert responder(["rm", "-rf", "/"], None, 1.0) == UNKNOWN_ANSWER
    assert responder.live_runs == []
    assert responder.asked == [(("/bin/x",), None), (("rm", "-rf", "/"), None)]


def test_a_live_responder_runs_an_unknown_command_once_and_replays_it() -> None:
    runs: list[list[str]] = []

    def live(argv: list[str], cwd: str | None, timeout: float | None) -> CommandOutcome:
        runs.append(argv)
        return CommandOutcome(0, f"run {len(runs)}", "")

    responder = RecordedResponder(Tape({}), live=live)
    first = responder(["date"], None, None)
    second = responder(["date"], None, None)
    assert first == second == CommandOutcome(0, "run 1", "")
    assert runs == [["date"]]
    assert not responder.packagekit().available()


# -- header, strategies, file trees ------------------------------------------------------


def test_the_guest_input_is_the_runtimes_header_line() -> None:
    given = guest_input({"args": {"rt.mod": "m", "key": "caf\u00e9"}, "opts": ["rt.list", "x"], "extra": 1})
    assert given.stdin == given.stdin.strip() + b"\n"
    assert json.loads(given.stdin) == given.header
    assert given.header["args"] == {"key": "caf\u00e9"} and given.header["opts"] == ["x"]
    assert given.header["ext"] == {"extra": 1}
    assert "caf\u00e9".encode() in given.stdin and b", " not in given.stdin


@QUICK
@given(json_values())
def test_drawn_json_survives_the_header(value: object) -> None:
    given = guest_input({"args": {"rt.mod": "m", "v": value}})
    # as the runtime reads the request (serde_json's way: integers beyond 64 bits become floats)
    assert json.loads(given.stdin)["args"]["v"] == loads_serde(json.dumps(value))


@QUICK
@given(command_cases("probe", known_args=("key",)))
def test_drawn_cases_are_valid_requests_with_header_stdin(case: CommandCase) -> None:
    assert isinstance(case, CommandCase)
    arguments = case.request.get("args", case.request.get("arguments"))
    assert isinstance(arguments, dict) and arguments["rt.mod"] == "probe"
    header_line = case.stdin.split(b"\n", 1)[0]
    assert json.loads(header_line) == case.header


@QUICK
@given(wasm_values("f32"), wasm_values("i64"), wasm_values("externref"))
def test_drawn_values_fit_their_types(f: Value, i: Value, r: Value) -> None:
    assert f.type == "f32" and 0 <= f.bits < 2**32
    assert i.type == "i64" and 0 <= i.bits < 2**64
    assert r == Value("externref", 0)


def test_file_trees_round_trip_through_a_folder(tmp_path: Path) -> None:
    tree: FileTree = {"etc/os-release": b"ID=x\n", "data": DIRECTORY, "data/link": Symlink("../etc/os-release"),
                      "caf\u00e9": b""}
    materialise(tree, tmp_path)
    assert snapshot(tmp_path) == {"etc": DIRECTORY, **tree}


# -- module readers, generators ----------------------------------------------------------


def test_the_export_reader_sees_every_export_type() -> None:
    wasm = wat_to_wasm("""(module
      (func (export "_start")) (func (export "f") (param i64 v128) (result f32))
      (memory (export "memory") 1) (global (export "g") (mut f64) (f64.const 1)))""")
    assert [(e.name, e.kind, e.params, e.results) for e in export_types(wasm)] == [
        ("_start", "func", (), ()), ("f", "func", ("i64", "v128"), ("f32",)),
        ("memory", "memory", (), ()), ("g", "global", (), ("f64",))]
    assert is_command(wasm) and exports_carry(wasm, "v128") and not exports_carry(wasm, "funcref")


def test_smith_flags_keep_every_unshared_proposal_off() -> None:
    flags = SmithConfig().flags()
    for proposal in ("threads", "exceptions", "gc", "tail-call", "memory64", "relaxed-simd"):
        assert f"--{proposal}-enabled=false" in flags
    assert "--max-imports=0" in flags and "--ensure-termination" in flags and "--canonicalize-nans=true" in flags


def test_every_instruction_builds_a_valid_module() -> None:
    cases = [c for i in INSTRUCTIONS for c in immediate_choices(i, random.Random(0))]
    assert len(INSTRUCTIONS) > 380
    wasm = from_wat(module_text(cases, b"\x01\x02"))
    assert len([e for e in export_types(wasm) if e.kind == "func"]) == len(cases)
    assert not exports_carry(wasm, "v128")
    assert isinstance(cases[0], InstructionCase)


# -- findings -----------------------------------------------------------------------------


def test_every_finding_has_a_regression_module_with_assertions() -> None:
    for finding in FINDINGS:
        regression = load_regression(finding)
        assert regression.text.startswith(f";; {finding.id}:"), finding.id
        if finding.instructions:
            assert regression.assertions, finding.id
        from_wat(regression.text)


def test_assertions_and_instruction_scans_parse() -> None:
    assert parse_value("i64:0xffffffffffffffff") == Value("i64", 2**64 - 1)
    assert parse_value("f32:-1") == Value("f32", 0xFFFF_FFFF)
    assert str(Assertion("f", (Value.i32(1),), (Value.i32(2),))) == "f(i32:1) == (i32:2)"
    assert instructions_in("  f32.ceil\n  (i64.div_u (local.get 0)) f32x4.abs $f32.floor") == {
        "f32.ceil", "i64.div_u", "f32x4.abs"}
