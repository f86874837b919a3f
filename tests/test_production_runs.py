"""WASI runs on the wasmtime backend: limits, traps, output, stdin, host API, concurrency."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path

import pytest
from conftest import wat_to_wasm
from wasi_wat import command, write_stdout

pytest.importorskip("wasmtime", reason="the production backend needs wasmtime")

from sysinspect_wasm_production import WasmtimeBackend
from sysinspect_wasm_production import backend as backend_module
from sysinspect_wasm_production import program as program_module
from sysinspect_wasm_production.instrument import Instrumented

from sysinspect_wasm import HostContext, Limits, Preopen, RunSpec, TrapKind, WasmRuntimeError
from sysinspect_wasm.commands import CommandOutcome
from sysinspect_wasm.spec import MIB

POLL = '(import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))'
SLEEP_10_S = """
    (i32.store8 (i32.const 8) (i32.const 0))
    (i32.store (i32.const 16) (i32.const 1))
    (i64.store (i32.const 24) (i64.const 10000000000))
    (drop (call $poll (i32.const 0) (i32.const 128) (i32.const 1) (i32.const 256)))"""
ENDLESS = "(loop $forever (br $forever))"


@pytest.fixture(scope="module")
def wasmtime_backend() -> WasmtimeBackend:
    return WasmtimeBackend()


def load(backend: WasmtimeBackend, wat: str, name: str = "guest") -> backend_module.WasmtimeModule:
    return backend.load(wat_to_wasm(wat), name=name)


# -- timeouts -------------------------------------------------------------------------


def test_a_guest_asleep_in_wasi_is_stopped_at_its_deadline(wasmtime_backend: WasmtimeBackend) -> None:
    module = load(wasmtime_backend, command(SLEEP_10_S, imports=POLL), "sleeper")
    result = module.run(RunSpec(limits=Limits(timeout=0.5)))
    # a sleep of 10 s that ended by itself would exit 0 untrapped: the timeout trap is the deadline's
    assert result.trap is not None and result.trap.kind is TrapKind.TIMEOUT
    assert result.exit_code is None


def test_an_endless_start_function_is_stopped(wasmtime_backend: WasmtimeBackend) -> None:
    module = load(wasmtime_backend, command("", extra=f"(func $init {ENDLESS}) (start $init)"), "endless-init")
    result = module.run(RunSpec(limits=Limits(timeout=0.5)))  # the start function never returns by itself
    assert result.trap is not None and result.trap.kind is TrapKind.TIMEOUT


def test_concurrent_runs_do_not_interrupt_each_other(wasmtime_backend: WasmtimeBackend) -> None:
    # one guest counts to a large number under a generous limit while others on the same
    # engine time out, overflow their output cap and finish early around it
    counter = load(wasmtime_backend, command("""
        (local $i i32)
        (loop $count (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $count (i32.lt_u (local.get $i) (i32.const 1500000000))))""" + write_stdout(1024, 4),
        extra='(data (i32.const 1024) "done")'), "counter")
    endless = load(wasmtime_backend, command(ENDLESS), "endless")
    chatter = load(wasmtime_backend, command(
        f"(loop $more {write_stdout(1024, 1000)} (br $more))"), "chatter")
    quick = load(wasmtime_backend, command("(call $proc_exit (i32.const 3))"), "quick")

    results: dict[str, list[object]] = {"counter": [], "endless": [], "chatter": [], "quick": []}

    def run(name: str, module: backend_module.WasmtimeModule, spec: RunSpec) -> None:
        results[name].append(module.run(spec))

    threads = [threading.Thread(target=run, args=("counter", counter, RunSpec(limits=Limits(timeout=60))))]
    for _ in range(3):
        threads.append(threading.Thread(target=run, args=("endless", endless, RunSpec(limits=Limits(timeout=0.2)))))
        threads.append(threading.Thread(target=run, args=("chatter", chatter, RunSpec(limits=Limits(timeout=60, stdout_bytes=5000)))))
        threads.append(threading.Thread(target=run, args=("quick", quick, RunSpec(limits=Limits(timeout=60)))))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    (counted,) = results["counter"]
    assert counted.ok and counted.stdout == b"done"  # type: ignore[attr-defined]
    assert all(r.trap.kind is TrapKind.TIMEOUT for r in results["endless"])  # type: ignore[attr-defined]
    assert all(r.trap.kind is TrapKind.OUTPUT_LIMIT and r.stdout == b"\0" * 5000 for r in results["chatter"])  # type: ignore[attr-defined]
    assert all((r.trap, r.exit_code) == (None, 3) for r in results["quick"])  # type: ignore[attr-defined]


def test_an_abandoned_guest_does_not_disturb_process_exit(tmp_path: Path) -> None:
    # A guest blocked in a WASI sleep is abandoned at its deadline; the process must still
    # exit promptly and cleanly (no panic from wasmtime's threads on the way out).
    wasm = tmp_path / "sleeper.wasm"
    wasm.write_bytes(wat_to_wasm(command(SLEEP_10_S, imports=POLL)))
    script = textwrap.dedent(f"""
        from pathlib import Path
        from sysinspect_wasm import Limits, RunSpec
        from sysinspect_wasm_production import WasmtimeBackend
        result = WasmtimeBackend().load(Path({str(wasm)!r})).run(RunSpec(limits=Limits(timeout=0.3)))
        print(result.trap.kind.value)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"timeout\n", b"")


# -- memory ceiling ---------------------------------------------------------------------


def test_grow_refused_by_the_ceiling_stops_the_guest(wasmtime_backend: WasmtimeBackend) -> None:
    module = load(wasmtime_backend, command(
        "(if (i32.eq (memory.grow (i32.const 20)) (i32.const -1)) (then (call $proc_exit (i32.const 7))))"))
    assert module.instrumentation_note == ""
    result = module.run(RunSpec(limits=Limits(memory_bytes=16 * 65536)))
    assert result.trap is not None and result.trap.kind is TrapKind.MEMORY_LIMIT
    assert module.run(RunSpec(limits=Limits(memory_bytes=21 * 65536))).exit_code == 0


def test_the_guests_own_unreachable_is_still_unreachable(wasmtime_backend: WasmtimeBackend) -> None:
    module = load(wasmtime_backend, command("(drop (memory.grow (i32.const 1))) unreachable"))
    result = module.run(RunSpec())
    assert result.trap is not None and result.trap.kind is TrapKind.UNREACHABLE


@pytest.mark.parametrize(("index", "pages", "ceiling", "expected"), [
    ("i64", 3, 64, 0),  # within everything
    ("i64", 100, 64, "memory limit"),  # refused by the ceiling
    ("i32", 100, 1000, 7),  # beyond the memory's declared maximum of 50: -1, the guest goes on
])
def test_memory64_and_second_memories_are_guarded(
    wasmtime_backend: WasmtimeBackend, index: str, pages: int, ceiling: int, expected: int | str
) -> None:
    memories = '(memory $first (export "memory") 1) (memory $second i64 1) (memory $third 1 50)'
    grow = (f"(i64.eq (memory.grow $second (i64.const {pages})) (i64.const -1))" if index == "i64"
            else f"(i32.eq (memory.grow $third (i32.const {pages})) (i32.const -1))")
    module = load(wasmtime_backend, command(f"(if {grow} (then (call $proc_exit (i32.const 7))))", memory=memories))
    result = module.run(RunSpec(limits=Limits(memory_bytes=ceiling * 65536)))
    if isinstance(expected, int):
        assert (result.trap, result.exit_code) == (None, expected)
    else:
        assert result.trap is not None and result.trap.kind.value == expected


def test_uninstrumented_modules_fall_back_to_minus_one(monkeypatch: pytest.MonkeyPatch, wasmtime_backend: WasmtimeBackend) -> None:
    monkeypatch.setattr(program_module, "instrument", lambda data: Instrumented(data, note="test: decoder refused"))
    module = load(wasmtime_backend, command(
        "(if (i32.eq (memory.grow (i32.const 20)) (i32.const -1)) (then (call $proc_exit (i32.const 7)))) unreachable"))
    assert module.instrumentation_note == "test: decoder refused"
    result = module.run(RunSpec(limits=Limits(memory_bytes=16 * 65536)))
    assert (result.trap, result.exit_code) == (None, 7)  # store limits alone: grow gives -1
    trapped = module.run(RunSpec(limits=Limits(memory_bytes=32 * 65536)))
    assert trapped.trap is not None and "not instrumented" in trapped.trap.message


def test_a_rewritten_module_that_fails_validation_runs_uninstrumented(
    monkeypatch: pytest.MonkeyPatch, wasmtime_backend: WasmtimeBackend
) -> None:
    monkeypatch.setattr(program_module, "instrument", lambda data: Instrumented(b"\0asm broken", frozenset({9})))
    module = load(wasmtime_backend, command("(call $proc_exit (i32.const 5))"))
    assert "failed validation" in module.instrumentation_note
    assert module.run(RunSpec()).exit_code == 5


# -- traps wasmtime reports without a trap code -------------------------------------------


@pytest.mark.parametrize(("body", "kind"), [
    ("(drop (call $fd_write (i32.const 1) (i32.const 65528) (i32.const 4) (i32.const 8)))", TrapKind.OUT_OF_BOUNDS),
    ("(drop (call $fd_write (i32.const 1) (i32.const 3) (i32.const 1) (i32.const 8)))", TrapKind.OUT_OF_BOUNDS),
    ("(call $proc_exit (i32.const 300))", TrapKind.UNREACHABLE),
])
def test_wasi_refusals_are_classified(wasmtime_backend: WasmtimeBackend, body: str, kind: TrapKind) -> None:
    result = load(wasmtime_backend, command(body)).run(RunSpec())
    assert result.trap is not None and result.trap.kind is kind, result.trap
    assert result.exit_code is None


@pytest.mark.parametrize(("module", "kind"), [
    ('(module (memory 1) (data (i32.const 65530) "too long") (func (export "_start")))', TrapKind.OUT_OF_BOUNDS),
    ('(module (func $s unreachable) (start $s) (func (export "_start")))', TrapKind.UNREACHABLE),
    ('(module (func (export "_start") (param i32)))', TrapKind.LINK_ERROR),
    # wasmtime's C API aborts the process when asked about v128 or GC types: never ask it
    ('(module (func (export "_start") (param v128)))', TrapKind.LINK_ERROR),
    ('(module (type $t (struct)) (func (export "_start") (result (ref null $t)) (ref.null $t)))', TrapKind.LINK_ERROR),
    ('(module (global (export "_start") i32 (i32.const 0)))', TrapKind.LINK_ERROR),
    ('(module (import "wasi_snapshot_preview1" "no_such_call" (func)) (func (export "_start")))', TrapKind.LINK_ERROR),
])
def test_instantiation_failures_are_classified(wasmtime_backend: WasmtimeBackend, module: str, kind: TrapKind) -> None:
    result = load(wasmtime_backend, module).run(RunSpec())
    assert result.trap is not None and result.trap.kind is kind, result.trap


def test_initial_memory_at_the_ceiling_is_fine(wasmtime_backend: WasmtimeBackend) -> None:
    module = load(wasmtime_backend, command("", memory='(memory (export "memory") 16)'))
    assert module.run(RunSpec(limits=Limits(memory_bytes=16 * 65536))).ok
    over = module.run(RunSpec(limits=Limits(memory_bytes=15 * 65536)))
    assert over.trap is not None and over.trap.kind is TrapKind.MEMORY_LIMIT


def test_load_errors_name_the_module(wasmtime_backend: WasmtimeBackend, tmp_path: Path) -> None:
    missing = tmp_path / "gone.wasm"
    with pytest.raises(Exception, match="gone") as caught:
        wasmtime_backend.load(missing)
    assert caught.type.__name__ == "ModuleLoadError"


# -- output -------------------------------------------------------------------------------


def test_one_big_write_past_the_cap_keeps_exactly_the_cap(wasmtime_backend: WasmtimeBackend) -> None:
    wat = command("(memory.fill (i32.const 1024) (i32.const 97) (i32.const 5000))" + write_stdout(1024, 5000)
                  + "(call $proc_exit (i32.const 0))")
    result = load(wasmtime_backend, wat).run(RunSpec(limits=Limits(stdout_bytes=1234)))
    assert result.trap is not None and result.trap.kind is TrapKind.OUTPUT_LIMIT
    assert result.stdout == b"a" * 1234 and result.exit_code is None


def test_a_zero_cap_stops_the_first_byte(wasmtime_backend: WasmtimeBackend) -> None:
    wat = command("(i32.store8 (i32.const 1024) (i32.const 33))" + write_stdout(1024, 1, fd=2))
    result = load(wasmtime_backend, wat).run(RunSpec(limits=Limits(stderr_bytes=0)))
    assert result.trap is not None and result.trap.kind is TrapKind.OUTPUT_LIMIT
    assert result.stderr == b""


def test_nothing_reaches_the_real_stdout_or_stderr(wasmtime_backend: WasmtimeBackend, capfd: pytest.CaptureFixture[str]) -> None:
    wat = command("(memory.fill (i32.const 1024) (i32.const 98) (i32.const 100))" + write_stdout(1024, 100)
                  + write_stdout(1024, 100, fd=2) + "(loop $more " + write_stdout(1024, 100) + "(br $more))")
    result = load(wasmtime_backend, wat).run(RunSpec(limits=Limits(stdout_bytes=1000)))
    assert result.trap is not None and result.trap.kind is TrapKind.OUTPUT_LIMIT
    assert result.stderr == b"b" * 100
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


# -- stdin, argv, env, preopens ----------------------------------------------------------------


def test_stdin_leaves_no_temporary_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, wasmtime_backend: WasmtimeBackend) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    wat = command("""
      (i32.store (i32.const 32) (i32.const 1024)) (i32.store (i32.const 36) (i32.const 100))
      (drop (call $fd_read (i32.const 0) (i32.const 32) (i32.const 1) (i32.const 40)))""" + write_stdout(1024, 5),
        imports='(import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))')
    result = load(wasmtime_backend, wat).run(RunSpec(stdin=b"hello world"))
    assert result.ok and result.stdout == b"hello"
    assert list(tmp_path.iterdir()) == []


def test_a_missing_preopen_directory_is_the_callers_error(wasmtime_backend: WasmtimeBackend, tmp_path: Path) -> None:
    module = load(wasmtime_backend, command(""))
    with pytest.raises(WasmRuntimeError, match="preopen"):
        module.run(RunSpec(preopens=(Preopen(tmp_path / "absent", "/"),)))


def test_read_only_preopen_refuses_to_create(wasmtime_backend: WasmtimeBackend, tmp_path: Path) -> None:
    open_file = '(import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))'
    # path_open(fd 3, follow, "new", O_CREAT, all rights, fdflags 0, &fd) -> errno, exit with it
    wat = command('(call $proc_exit (call $path_open (i32.const 3) (i32.const 1) (i32.const 1024) (i32.const 3)'
                  ' (i32.const 1) (i64.const 0x1fffffff) (i64.const 0x1fffffff) (i32.const 0) (i32.const 64)))',
                  imports=open_file, extra='(data (i32.const 1024) "new")')
    module = load(wasmtime_backend, wat)
    refused = module.run(RunSpec(preopens=(Preopen(tmp_path, "/"),)))
    assert refused.exit_code not in (None, 0) and not (tmp_path / "new").exists()
    allowed = module.run(RunSpec(preopens=(Preopen(tmp_path, "/", writable=True),)))
    assert allowed.exit_code == 0 and (tmp_path / "new").exists()


# -- host API ------------------------------------------------------------------------------------


def exec_guest() -> str:
    request = json.dumps({"argv": ["/bin/true"]})
    return command(f"""
      (i32.store (i32.const 0) (call $exec (i32.const 1024) (i32.const {len(request)}) (i32.const 4096) (i32.const 100)))
      {write_stdout(0, 4)}""",
        imports='(import "api" "exec" (func $exec (param i32 i32 i32 i32) (result i32)))',
        extra=f"(data (i32.const 1024) {json.dumps(request)})")


def test_a_failing_host_function_answers_minus_two_and_the_guest_goes_on(wasmtime_backend: WasmtimeBackend) -> None:
    def broken(argv: list[str], cwd: str | None, timeout: float | None) -> CommandOutcome:
        raise RuntimeError("host bug")

    result = load(wasmtime_backend, exec_guest()).run(RunSpec(host=HostContext(commands=broken)))
    assert result.ok and result.stdout == (-2).to_bytes(4, "little", signed=True)
    (call,) = result.host_calls
    assert call.result == -2 and call.request is not None and "host bug" in call.request


def test_exec_gets_the_remaining_time(wasmtime_backend: WasmtimeBackend) -> None:
    seen: list[float | None] = []

    def runner(argv: list[str], cwd: str | None, timeout: float | None) -> CommandOutcome:
        seen.append(timeout)
        return CommandOutcome(0, "", "")

    module = load(wasmtime_backend, exec_guest())
    assert module.run(RunSpec(host=HostContext(commands=runner), limits=Limits(timeout=30))).ok
    assert module.run(RunSpec(host=HostContext(commands=runner))).ok
    assert seen[1] is None
    assert seen[0] is not None and 0 < seen[0] <= 30


def test_memory_ceiling_default_allows_a_large_guest(wasmtime_backend: WasmtimeBackend) -> None:
    module = load(wasmtime_backend, command(
        f"(if (i32.eq (memory.grow (i32.const {100 * MIB // 65536})) (i32.const -1)) (then unreachable))"))
    assert module.run(RunSpec()).ok
