"""Behaviour specific to the pywasm backend: limits, the watchdog, host functions, bare instances, loading."""

from __future__ import annotations

import math
import struct
import time

import pytest
from conftest import wat_to_wasm
from sysinspect_wasm_reference import PywasmBackend
from sysinspect_wasm_reference.loader import ENGINE
from sysinspect_wasm_reference.signals import CheckFailed, DeadlineExceeded
from sysinspect_wasm_reference.traps import classify
from sysinspect_wasm_reference.watchdog import Watchdog
from wasi_wat import command, write_stdout

from sysinspect_wasm import GuestTrap, HostContext, Limits, ModuleLoadError, RunSpec, TrapKind, Value
from sysinspect_wasm.commands import CommandOutcome
from sysinspect_wasm.spec import MIB, WASM_PAGE

BACKEND = PywasmBackend()

POLL_ONEOFF = '(import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))'


def run(wat: str, spec: RunSpec | None = None, name: str = "guest") -> object:
    return BACKEND.load(wat_to_wasm(wat), name=name).run(spec or RunSpec())


# -- memory ceiling ----------------------------------------------------------------


def grow_and_report(pages: int, memory: str = '(memory (export "memory") 1)') -> str:
    """A guest that grows by ``pages`` and writes the i32 result (4 bytes) to stdout."""
    return command(f"(i32.store (i32.const 0) (memory.grow (i32.const {pages})))" + write_stdout(0, 4), memory=memory)


def grow_result(stdout: bytes) -> int:
    value: int = struct.unpack("<i", stdout)[0]
    return value


def test_grow_past_the_wasm_maximum_returns_minus_one_even_under_a_huge_ceiling() -> None:
    result = run(grow_and_report(70000), RunSpec(limits=Limits(memory_bytes=(1 << 32) + WASM_PAGE)))
    assert result.ok and grow_result(result.stdout) == -1  # type: ignore[attr-defined]


def test_grow_past_the_declared_maximum_returns_minus_one_before_the_ceiling_stops() -> None:
    result = run(grow_and_report(8, memory='(memory (export "memory") 1 4)'), RunSpec(limits=Limits(memory_bytes=2 * WASM_PAGE)))
    assert result.ok and grow_result(result.stdout) == -1  # type: ignore[attr-defined]


def test_grow_past_the_ceiling_stops_the_guest() -> None:
    result = run(grow_and_report(2), RunSpec(limits=Limits(memory_bytes=2 * WASM_PAGE)))
    assert result.trap is not None and result.trap.kind is TrapKind.MEMORY_LIMIT  # type: ignore[attr-defined]
    assert result.exit_code is None  # type: ignore[attr-defined]


def test_grow_to_exactly_the_ceiling_succeeds_past_pywasms_own_cap() -> None:
    result = run(grow_and_report(1100), RunSpec(limits=Limits(memory_bytes=1101 * WASM_PAGE)))
    assert result.ok and grow_result(result.stdout) == 1  # type: ignore[attr-defined]


# -- timeouts and the watchdog -----------------------------------------------------


def test_a_guest_sleeping_in_poll_oneoff_is_stopped_at_the_timeout() -> None:
    # one clock subscription (48 bytes at 0): relative, one hour
    sleep = command(
        """(i64.store (i32.const 24) (i64.const 3600000000000))
           (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))""",
        imports=POLL_ONEOFF,
    )
    result = run(sleep, RunSpec(limits=Limits(timeout=0.5)))
    # an hour's sleep that ended by itself would exit untrapped: the timeout trap is the deadline's
    assert result.trap is not None and result.trap.kind is TrapKind.TIMEOUT  # type: ignore[attr-defined]


def test_a_short_poll_oneoff_sleep_returns_its_clock_event() -> None:
    sleep = command(
        """(i64.store (i32.const 0) (i64.const 77))
           (i64.store (i32.const 24) (i64.const 1000000))
           (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))"""
        + write_stdout(64, 11),
        imports=POLL_ONEOFF,
    )
    result = run(sleep)
    assert result.ok  # type: ignore[attr-defined]
    userdata, error, kind = struct.unpack_from("<QHB", result.stdout)  # type: ignore[attr-defined]
    assert (userdata, error, kind) == (77, 0, 0)


def spin_until(predicate: object, limit: int = 10**8) -> None:
    for _ in range(limit):
        if predicate():  # type: ignore[operator]
            return


@pytest.mark.parametrize("attempt", range(40))
def test_the_watchdog_never_raises_after_its_block(attempt: int) -> None:
    # the deadline falls around the end of the guarded block, on either side of it
    deadline = time.monotonic() + (attempt % 8) * 0.0005
    try:
        with Watchdog(deadline):
            spin_until(lambda: time.monotonic() >= deadline)
    except DeadlineExceeded:
        pass
    after = time.monotonic() + 0.02
    spin_until(lambda: time.monotonic() >= after)  # a leaked exception would surface here


def test_the_watchdog_interrupts_a_busy_thread() -> None:
    watchdog = Watchdog(time.monotonic() + 0.05)
    with pytest.raises(DeadlineExceeded), watchdog:
        spin_until(lambda: False, limit=10**12)
    assert watchdog.fired


def test_a_timeout_applies_to_each_instance_call() -> None:
    wasm = wat_to_wasm('(module (func (export "spin") (loop $l (br $l))) (func (export "one") (result i32) (i32.const 1)))')
    instance = BACKEND.load(wasm, name="spin").instantiate(Limits(timeout=0.3))
    with pytest.raises(GuestTrap) as caught:
        instance.call("spin", [])
    assert caught.value.trap.kind is TrapKind.TIMEOUT
    assert instance.call("one", []) == [Value.i32(1)]  # the instance is usable after a trap


# -- output ------------------------------------------------------------------------


@pytest.mark.parametrize("fd", [1, 2])
def test_output_keeps_exactly_the_first_cap_bytes(fd: int) -> None:
    wat = command(write_stdout(1024, 10, fd) + write_stdout(1034, 10, fd), extra='(data (i32.const 1024) "0123456789abcdefghij")')
    limits = Limits(stdout_bytes=13) if fd == 1 else Limits(stderr_bytes=13)
    result = run(wat, RunSpec(limits=limits))
    assert result.trap is not None and result.trap.kind is TrapKind.OUTPUT_LIMIT  # type: ignore[attr-defined]
    assert (result.stdout if fd == 1 else result.stderr) == b"0123456789abc"  # type: ignore[attr-defined]


def test_nothing_reaches_the_real_stdout_or_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    wat = command(write_stdout(1024, 5, 1) + write_stdout(1024, 5, 2), extra='(data (i32.const 1024) "hello")')
    result = run(wat)
    assert result.stdout == b"hello" and result.stderr == b"hello"  # type: ignore[attr-defined]
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def test_a_wasi_pointer_outside_memory_stops_the_guest_like_wasmtime() -> None:
    wat = command("(drop (call $fd_write (i32.const 1) (i32.const 70000) (i32.const 1) (i32.const 0)))")
    result = run(wat)
    assert result.trap is not None and result.trap.kind is TrapKind.OUT_OF_BOUNDS  # type: ignore[attr-defined]


@pytest.mark.parametrize(("status", "exit_code"), [(0, 0), (3, 3), (125, 125), (126, None), (-1, None)])
def test_exit_statuses_follow_wasmtime(status: int, exit_code: int | None) -> None:
    result = run(command(f"(call $proc_exit (i32.const {status}))"))
    assert result.exit_code == exit_code  # type: ignore[attr-defined]
    assert (result.trap is None) == (exit_code is not None)  # type: ignore[attr-defined]


# -- host API ----------------------------------------------------------------------

EXEC = '(import "api" "exec" (func $exec (param i32 i32 i32 i32) (result i32)))'


def test_a_host_side_exception_never_escapes_run() -> None:
    def broken_runner(argv: list[str], cwd: str | None, timeout: float | None) -> CommandOutcome:
        raise RuntimeError("the host is broken")

    request = b'{"argv": ["/bin/true"]}'
    wat = command(
        f"(i32.store (i32.const 0) (call $exec (i32.const 1024) (i32.const {len(request)}) (i32.const 2048) (i32.const 100)))"
        + write_stdout(0, 4),
        imports=EXEC,
        extra=f'(data (i32.const 1024) "{request.decode().replace(chr(34), chr(92) + chr(34))}")',
    )
    result = run(wat, RunSpec(host=HostContext(commands=broken_runner)))
    assert result.ok and grow_result(result.stdout) == -2  # type: ignore[attr-defined]
    [call] = result.host_calls  # type: ignore[attr-defined]
    assert call.function == "exec" and call.result == -2 and "the host is broken" in (call.request or "")


def test_host_functions_get_signed_i32_arguments() -> None:
    log = '(import "api" "log" (func $log (param i32 i32 i32)))'
    result = run(command("(call $log (i32.const -5) (i32.const -1) (i32.const 0x7fffffff))", imports=log))
    assert result.ok  # type: ignore[attr-defined]
    assert result.host_calls[0].args == (-5, -1, 0x7FFFFFFF)  # type: ignore[attr-defined]


# -- bare instances ----------------------------------------------------------------

VALUES = """(module
  (memory (export "mem") 1)
  (data (i32.const 0) "abc")
  (global (export "g64") (mut i64) (i64.const -2))
  (global (export "gf") f32 (f32.const nan:0x200001))
  (func (export "id32") (param f32) (result f32) (local.get 0))
  (func (export "id64") (param f64) (result f64) (local.get 0))
  (func (export "bits") (param f64) (result i64) (i64.reinterpret_f64 (local.get 0)))
  (func (export "pair") (param i32 i64) (result i64 i32) (local.get 1) (local.get 0))
  (func (export "set") (param i64) (global.set 0 (local.get 0)))
  (func (export "boom") (result i32) (i32.div_u (i32.const 1) (i32.const 0))))"""


def test_instance_exports_have_signatures() -> None:
    instance = BACKEND.load(wat_to_wasm(VALUES), name="values").instantiate()
    exports = {e.name: e for e in instance.exports()}
    assert exports["pair"].kind == "func" and exports["pair"].params == ("i32", "i64") and exports["pair"].results == ("i64", "i32")
    assert exports["mem"].kind == "memory" and exports["g64"].kind == "global"


@pytest.mark.parametrize("bits", [0x7FC00001, 0xFFA00000, 0x7F800001, 0x80000000, 0x3F800000])
def test_f32_bits_survive_a_round_trip(bits: int) -> None:
    instance = BACKEND.load(wat_to_wasm(VALUES), name="values").instantiate()
    assert instance.call("id32", [Value("f32", bits)]) == [Value("f32", bits)]


@pytest.mark.parametrize("bits", [0x7FF0000000000001, 0xFFF8000000000123, 0x8000000000000000])
def test_f64_nan_payloads_survive(bits: int) -> None:
    instance = BACKEND.load(wat_to_wasm(VALUES), name="values").instantiate()
    assert instance.call("id64", [Value("f64", bits)]) == [Value("f64", bits)]
    assert instance.call("bits", [Value("f64", bits)]) == [Value("i64", bits)]


def test_multiple_results_globals_and_memory() -> None:
    instance = BACKEND.load(wat_to_wasm(VALUES), name="values").instantiate()
    assert instance.call("pair", [Value.i32(-1), Value.i64(2**63)]) == [Value("i64", 2**63), Value("i32", 0xFFFFFFFF)]
    assert instance.global_value("g64") == Value.i64(-2)
    instance.call("set", [Value.i64(7)])
    assert instance.global_value("g64") == Value.i64(7)
    assert instance.global_value("gf") == Value("f32", 0x7FA00001)
    assert instance.memory("mem")[:4] == b"abc\0" and len(instance.memory("mem")) == WASM_PAGE


def test_a_trapping_call_raises_guest_trap() -> None:
    instance = BACKEND.load(wat_to_wasm(VALUES), name="values").instantiate()
    with pytest.raises(GuestTrap) as caught:
        instance.call("boom", [])
    assert caught.value.trap.kind is TrapKind.DIVIDE_BY_ZERO
    assert instance.call("id32", [Value.f32(1.5)]) == [Value.f32(1.5)]


def test_wrong_argument_types_are_refused() -> None:
    instance = BACKEND.load(wat_to_wasm(VALUES), name="values").instantiate()
    with pytest.raises(TypeError):
        instance.call("id32", [Value.i32(1)])


def test_instantiate_refuses_imports_as_a_link_error() -> None:
    module = BACKEND.load(wat_to_wasm(command("")), name="needs-wasi")
    with pytest.raises(ModuleLoadError) as caught:
        module.instantiate()
    assert caught.value.trap.kind is TrapKind.LINK_ERROR


def test_a_trapping_start_function_raises_guest_trap() -> None:
    wasm = wat_to_wasm("(module (func $s unreachable) (start $s))")
    with pytest.raises(GuestTrap) as caught:
        BACKEND.load(wasm, name="bad-start").instantiate()
    assert caught.value.trap.kind is TrapKind.UNREACHABLE


def test_initial_memory_over_the_ceiling_refuses_the_instance() -> None:
    wasm = wat_to_wasm("(module (memory 10))")
    with pytest.raises(GuestTrap) as caught:
        BACKEND.load(wasm, name="big").instantiate(Limits(memory_bytes=4 * WASM_PAGE))
    assert caught.value.trap.kind is TrapKind.MEMORY_LIMIT
    assert BACKEND.load(wasm, name="big").instantiate(Limits(memory_bytes=MIB)) is not None


# -- loading and classification --------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\0asm\x02\0\0\0",
        wat_to_wasm("(module)")[:-1] + b"\x01\x05",
        b"\0asm\x01\0\0\0\x07\x05\x01\x01f\x00\x09",  # exports function 9 of none
    ],
)
def test_invalid_modules_raise_a_load_error_naming_the_module(data: bytes) -> None:
    with pytest.raises(ModuleLoadError, match="broken-one") as caught:
        BACKEND.load(data, name="broken-one")
    assert caught.value.trap.kind is TrapKind.INVALID_MODULE


def test_an_unclassifiable_failure_keeps_its_text() -> None:
    trap = classify(KeyError("something odd"), ENGINE.core.Machine())
    assert trap.kind is TrapKind.UNREACHABLE and "something odd" in trap.message


def test_a_failed_check_outside_any_instruction_is_unclassified_but_named() -> None:
    trap = classify(CheckFailed("len(x) == 1"), ENGINE.core.Machine())
    assert trap.kind is TrapKind.UNREACHABLE and "len(x) == 1" in trap.message


def test_floats_in_value_helpers_are_not_needed_for_nan() -> None:
    assert math.isnan(Value("f32", 0x7FC00001).as_float())


def test_a_module_with_data_segments_runs_again_with_its_data() -> None:
    # pywasm's data.drop clears the parsed segment in place; each run must start from the module's bytes
    module = BACKEND.load(wat_to_wasm(command(write_stdout(1024, 5), extra='(data (i32.const 1024) "hello")')), name="twice")
    assert [module.run(RunSpec()).stdout for _ in range(3)] == [b"hello"] * 3
