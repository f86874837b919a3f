"""Backtraces of a trapped guest: the same frames on both backends, and the same as wasmtime's own.

The guests (``tests/guests/traps/``, built with debug info by its ``build.sh``) trap a few calls deep: a C
module divides by zero (with an inlined frame), a C++ one too (in a method and a template), a Zig module indexes out of bounds in a safe build, a Rust
module divides by zero and panics. The oracle is wasmtime itself, run bare (no rewriting, no epochs, as
``wasmtime run`` would) with ``WASMTIME_BACKTRACE_DETAILS=1``: its backtrace text holds every frame's name
and, from DWARF, every source position, inlined frames included.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import load_backend, wat_to_wasm
from protocol.harness import RUNTIME, call_raw

from sysinspect_wasm.backends import BACKEND_NAMES, PYWASM, WASMTIME
from sysinspect_wasm.backtrace import Backtrace, demangle, function_names, resolve
from sysinspect_wasm.result import RunResult
from sysinspect_wasm.spec import Limits, RunSpec
from sysinspect_wasm.traps import Frame, Trap, TrapKind

GUESTS = Path(__file__).parent / "guests" / "traps"
MODULES = ("trapchain-c", "trapchain-cpp", "trapchain-zig", "trapchain-rust")

# where each guest fails, as its author wrote it: the innermost frame of the author's own code
AUTHOR_FRAMES = {
    "trapchain-c": ("divide_share", "trapchain.c:7"),
    "trapchain-cpp": ("int shares::divide<int>(int, int)", "trapchain.cpp:8"),
    "trapchain-zig": ("trapchain.slotAt", "trapchain.zig:8"),
    "trapchain-rust": ("trapchain::divide_share::", "trapchain.rs:5"),
}
# the message names the innermost named frame: for Zig and Rust, that is the panic's own machinery
MESSAGES = {
    "trapchain-c": "wasm trap: integer divide by zero in divide_share (trapchain.c:7)",
    "trapchain-cpp": "wasm trap: integer divide by zero in int shares::divide<int>(int, int) (trapchain.cpp:8)",
    "trapchain-zig": "wasm trap: unreachable instruction executed in process.abort (process.zig:859)",
    "trapchain-rust": "wasm trap: unreachable instruction executed in __rust_start_panic (lib.rs:84)",
}

ORACLE = r"""
import json, sys, wasmtime
engine = wasmtime.Engine()
module = wasmtime.Module.from_file(engine, sys.argv[1])
store = wasmtime.Store(engine)
wasi = wasmtime.WasiConfig()
wasi.argv = [sys.argv[2]]
store.set_wasi(wasi)
linker = wasmtime.Linker(engine)
linker.define_wasi()
try:
    linker.instantiate(store, module).exports(store)["_start"](store)
except wasmtime.Trap as trap:
    frames = [[f.func_index, f.module_offset, f.func_name] for f in trap.frames]
    print(json.dumps({"text": trap.message, "frames": frames}))
"""


@pytest.fixture(scope="module")
def guests(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the guests (the caches write beside a module)."""
    folder = tmp_path_factory.mktemp("traps")
    for name in MODULES:
        shutil.copy(GUESTS / f"{name}.wasm", folder / f"{name}.wasm")
    return folder


def oracle(path: Path) -> tuple[list[Frame], list[str], list[list[tuple[str, str | None]]]]:
    """wasmtime's own account of the trap: raw frames, names, and each frame's (function, position) entries."""
    env = {**os.environ, "WASMTIME_BACKTRACE_DETAILS": "1"}
    done = subprocess.run([sys.executable, "-c", ORACLE, str(path), path.stem], capture_output=True, env=env,
                          check=True, timeout=120)
    report = json.loads(done.stdout)
    frames = [Frame(index, offset) for index, offset, _name in report["frames"]]
    names = [demangle(name) if name else f"<wasm function {index}>" for index, _offset, name in report["frames"]]
    entries: list[list[tuple[str, str | None]]] = []
    for line in report["text"].splitlines():
        head = re.match(r"\s+\d+:\s+0x[0-9a-f]+ - (.*)$", line)
        inlined = re.match(r"\s+- (.*)$", line)
        where = re.match(r"\s+at (.*)$", line)
        if head:
            entries.append([(head.group(1).split("!")[-1], None)])
        elif inlined and entries:
            entries[-1].append((inlined.group(1), None))
        elif where and entries:
            entries[-1][-1] = (entries[-1][-1][0], where.group(1))
    return frames, names, entries


def run_frames(backend_name: str, path: Path) -> tuple[TrapKind | None, tuple[Frame, ...]]:
    module = load_backend(backend_name).load(path, name=path.stem)
    result = module.run(RunSpec(argv=(path.stem,)))
    return (None if result.trap is None else result.trap.kind), result.frames


@pytest.mark.parametrize("name", MODULES)
def test_both_backends_give_wasmtimes_own_frames_names_and_source_lines(guests: Path, name: str) -> None:
    path = guests / f"{name}.wasm"
    frames, names, entries = oracle(path)
    assert len(frames) >= 4
    for backend in BACKEND_NAMES:
        kind, ours = run_frames(backend, path)
        assert kind in (TrapKind.DIVIDE_BY_ZERO, TrapKind.UNREACHABLE)
        assert list(ours) == frames, backend  # function indices and offsets, innermost first
    backtrace = resolve(frames, path.read_bytes())
    assert [frame.name for frame in backtrace.frames] == names
    for frame, expected in zip(backtrace.frames, entries, strict=True):
        if frame.locations:  # wasmtime names a frame with DWARF by its DWARF names, innermost inlined first
            assert [(loc.function, loc.where()) for loc in frame.locations] == expected
        else:
            assert [(frame.name, None)] == expected
    function, where = AUTHOR_FRAMES[name]
    author = next(frame for frame in backtrace.frames if frame.name.startswith(function))
    assert author.locations[0].where().rsplit("/", 1)[-1].startswith(f"{where.rsplit('/', 1)[-1]}:")


def test_the_c_guest_shows_its_inlined_frame(guests: Path) -> None:
    frames, _names, _entries = oracle(guests / "trapchain-c.wasm")
    lines = resolve(frames, (guests / "trapchain-c.wasm").read_bytes()).lines()
    text = "\n".join(lines)
    assert re.search(r"0: divide_share .*\n\s+at \./trapchain\.c:7:18\n\s+1: parse_limit .*\n"
                     r"\s+inlined share_of at \./trapchain\.c:11:12\n\s+at \./trapchain\.c:16:12\n\s+2: main", text), text


@pytest.mark.parametrize("name", MODULES)
@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_run_prints_the_backtrace_to_stderr_and_names_the_frame_in_the_message(guests: Path, name: str,
                                                                                backend: str) -> None:
    load_backend(backend)
    done = subprocess.run([str(RUNTIME), "run", str(guests / f"{name}.wasm"), "--backend", backend, "--compact"],
                          capture_output=True, timeout=300, check=False)
    assert done.stdout.count(b"\n") == 1, done.stdout
    response = json.loads(done.stdout)
    assert response["message"] == f'Failed to run module "{name}": {MESSAGES[name]}'
    stderr = done.stderr.decode()
    reason = stderr.index(f'({backend} backend): ')
    trace = stderr.index(f'wasm-runtime: module "{name}" backtrace, innermost first:\n  0: ')
    assert reason < trace
    function, where = AUTHOR_FRAMES[name]
    assert re.search(rf"{re.escape(function)}.*\n\s+at .*{re.escape(where)}:\d+", stderr[trace:]), stderr


def test_protocol_mode_answers_one_line_naming_the_frame(guests: Path, tmp_path: Path) -> None:
    folder = tmp_path / "lib" / "runtime" / "wasm"
    folder.mkdir(parents=True)
    shutil.copy(guests / "trapchain-c.wasm", folder / "trapchain-c.wasm")
    for backend in BACKEND_NAMES:
        load_backend(backend)
        request = {"args": {"rt.mod": "trapchain-c", "rt.backend": backend},
                   "config": {"path.sharelib": str(tmp_path)}}
        answer = call_raw(json.dumps(request).encode())  # exactly one line on stdout, or it fails
        assert answer.response["message"].endswith(" in divide_share (trapchain.c:7)")
        assert "  0: divide_share (function 48" in answer.stderr
        assert "Traceback" not in answer.stderr


# A trapped protocol call, warm (its artifact cached, its digest remembered), in a fresh process: how many times
# the module file is opened by loading the module alone, and by the whole call. SETTLE_NS is 0 so that the calls
# before it remember the digest.
OPENS_PROBE = """
import io, json, sys
from sysinspect_wasm import get_backend
from sysinspect_wasm.store import memo
from sysinspect_wasm_runtime.protocol import respond

memo.SETTLE_NS = 0
path, backend, request = sys.argv[1], sys.argv[2], sys.argv[3].encode()
opens = []
sys.addaudithook(lambda event, args: opens.append(event) if event == "open" and args[0] == path else None)
for _ in range(2):  # the first compiles and stores (or parses), the second writes the memo
    respond(request, stderr=io.BytesIO())
del opens[:]
get_backend(backend).load(path, name="trapchain-c")
loading = len(opens)
del opens[:]
response = respond(request, stderr=io.BytesIO())
print(json.dumps([loading, len(opens), response.message]))
"""


def test_a_trapped_call_reads_its_module_once(guests: Path, tmp_path: Path) -> None:
    # the reason, the frames carried back to the author's module and the backtrace are all found in one read of
    # the module file: on wasmtime, one beyond loading (a warm load opens the file for its memo, and reads none of
    # it); on pywasm, the one that loads it (it keeps the bytes)
    folder = tmp_path / "lib" / "runtime" / "wasm"
    folder.mkdir(parents=True)
    path = folder / "trapchain-c.wasm"
    shutil.copy(guests / "trapchain-c.wasm", path)
    for backend in BACKEND_NAMES:
        load_backend(backend)
        request = json.dumps({"args": {"rt.mod": "trapchain-c", "rt.backend": backend},
                              "config": {"path.sharelib": str(tmp_path)}})
        done = subprocess.run([sys.executable, "-c", OPENS_PROBE, str(path), backend, request], capture_output=True,
                              text=True, timeout=300, check=True)
        loading, calling, message = json.loads(done.stdout)
        assert message.endswith(" in divide_share (trapchain.c:7)"), (backend, message)
        assert calling - loading == (1 if backend == WASMTIME else 0), (backend, loading, calling)


# -- the rewritten module: frames carried back to the author's bytes -----------------------------

GROWS_THEN_DIVIDES = """
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory 1 2000)
  (func $divide (param $n i32) (result i32)
    (drop (memory.grow (i32.const 0)))
    (drop (memory.grow (local.get $n)))
    (i32.div_s (i32.const 7) (i32.sub (local.get $n) (local.get $n))))
  (func $grow_far (result i32)
    (drop (memory.grow (i32.const 0)))
    (memory.grow (i32.const 1500)))
  (func $middle (param $which i32) (result i32)
    (if (result i32) (local.get $which)
      (then (call $grow_far))
      (else (call $divide (i32.const 1)))))
  (func (export "_start")
    (drop (call $middle (global.get $which))))
  (global $which (mut i32) (i32.const 0))
  (export "which" (global $which)))
"""


def _grows(which: int) -> bytes:
    return wat_to_wasm(GROWS_THEN_DIVIDES.replace("(mut i32) (i32.const 0)", f"(mut i32) (i32.const {which})"))


@pytest.mark.parametrize(("which", "kind"), [(0, TrapKind.DIVIDE_BY_ZERO), (1, TrapKind.MEMORY_LIMIT)])
def test_frames_of_a_rewritten_module_point_into_the_authors_bytes(tmp_path: Path, which: int,
                                                                   kind: TrapKind) -> None:
    """The memory.grow rewrite shifts offsets and adds a guard; neither shows in the frames."""
    path = tmp_path / f"grows{which}.wasm"
    path.write_bytes(_grows(which))
    found = {}
    for backend in (WASMTIME, PYWASM):
        module = load_backend(backend).load(path, name=path.stem)
        result = module.run(RunSpec(argv=("grows",), limits=Limits(memory_bytes=64 << 20)))
        assert result.trap is not None and result.trap.kind is kind, result.trap
        found[backend] = result.frames
    assert found[WASMTIME] == found[PYWASM]
    names = [frame.name for frame in resolve(found[PYWASM], path.read_bytes()).frames]
    assert names == (["divide", "middle", "<wasm function 4>"] if which == 0
                     else ["grow_far", "middle", "<wasm function 4>"])
    data = path.read_bytes()
    innermost = found[PYWASM][0].module_offset
    assert data[innermost] == (0x6D if which == 0 else 0x40)  # i32.div_s, memory.grow: in the author's bytes


# -- the pieces ----------------------------------------------------------------------------------


def test_rust_and_cpp_symbols_are_demangled_as_wasmtime_shows_them() -> None:
    assert demangle("_ZN9trapchain12divide_share17hdc2c6ecf87a2344cE") == "trapchain::divide_share::hdc2c6ecf87a2344c"
    assert demangle("_ZN3std9panicking19begin_panic_handler28_$u7b$$u7b$closure$u7d$$u7d$17h8ef066ac4d1e7406E") \
        == "std::panicking::begin_panic_handler::{{closure}}::h8ef066ac4d1e7406"
    assert demangle("_ZN4core3ptr85drop_in_place$LT$std..rt..lang_start$LT$$LP$$RP$$GT$..$u7b$$u7b$closure$u7d$$u7d$$GT$"
                    "17h0000000000000000E") \
        == "core::ptr::drop_in_place<std::rt::lang_start<()>::{{closure}}>::h0000000000000000"
    for plain in ("main", "divide_share", "_ZN3foo", "_Zgarbage", "debug.defaultPanic"):
        assert demangle(plain) == plain
    # C++ (DWARF's linkage names; the name section's are already demangled), as wasmtime's cpp_demangle shows them
    assert demangle("_ZNK6Parser5limitEi") == "Parser::limit(int) const"
    assert demangle("_ZN6shares6divideIiEET_S1_S1_") == "int shares::divide<int>(int, int)"


def test_a_module_without_names_or_dwarf_gives_indices() -> None:
    data = wat_to_wasm("(module (func (export \"f\") unreachable))")
    backtrace = resolve([Frame(0, 30)], data)
    assert backtrace == Backtrace((backtrace.frames[0],))
    assert backtrace.frames[0].name == "<wasm function 0>" and backtrace.frames[0].locations == ()
    assert backtrace.summary() == ""
    assert function_names(b"\x01\x05\x01\x00\x02ab") == {0: "ab"}
    assert function_names(b"\x01\x09\x01\x00\x7f") == {}  # cut short: nothing invented


def test_resolving_never_fails_on_damaged_bytes() -> None:
    assert resolve([Frame(3, 100)], b"not wasm").frames[0].name == "<wasm function 3>"
    many = [Frame(0, 10)] * 100
    assert resolve(many, b"\x00asm\x01\x00\x00\x00").omitted == 100 - len(resolve(many, b"").frames)


# -- diff: a frame mismatch is a finding -----------------------------------------------------------


def _trapped(frames: tuple[Frame, ...]) -> RunResult:
    return RunResult(exit_code=None, trap=Trap(TrapKind.DIVIDE_BY_ZERO, "x"), frames=frames)


def test_diff_reports_frames_that_differ_and_forgives_only_the_innermost_offset() -> None:
    from sysinspect_wasm_differential.compare import RunObservation, compare_runs
    from sysinspect_wasm_differential.normalise import TRAP_SITE

    stack = (Frame(48, 100), Frame(49, 200), Frame(50, 300))

    def compare(left: tuple[Frame, ...], right: tuple[Frame, ...]) -> list[str]:
        comparison = compare_runs(RunObservation(WASMTIME, _trapped(left)), RunObservation(PYWASM, _trapped(right)))
        return [str(difference) for difference in comparison.differences] + [n.name for n in comparison.normalised]

    assert compare(stack, stack) == []
    assert compare(stack, (Frame(48, 98), *stack[1:])) == [TRAP_SITE.name]
    assert compare(stack, (Frame(47, 100), *stack[1:])) == [
        "backtrace (#0): function 48 at module offset 0x64 | function 47 at module offset 0x64"]
    assert compare(stack, (stack[0], Frame(49, 201), stack[2])) == [
        "backtrace (#1): function 49 at module offset 0xc8 | function 49 at module offset 0xc9"]
    assert compare(stack, stack[:2]) == [
        "backtrace (3 vs 2 entries, first extra #2): function 50 at module offset 0x12c | (no more)"]
    assert compare(stack, ()) == []  # a side that could not read its stack


def test_diff_of_a_trapping_module_agrees_on_its_frames(guests: Path) -> None:
    done = subprocess.run([str(RUNTIME), "diff", str(guests / "trapchain-c.wasm"), "--examples", "2"],
                          capture_output=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()


def test_a_stack_overflow_has_frames_inside_the_module_on_both_backends(tmp_path: Path) -> None:
    path = tmp_path / "deep.wasm"
    path.write_bytes(wat_to_wasm('(module (func $deep (param i32) (result i32)'
                                 ' (call $deep (i32.add (local.get 0) (i32.const 1))))'
                                 ' (func (export "_start") (drop (call $deep (i32.const 0)))))'))
    data = path.read_bytes()
    for backend in BACKEND_NAMES:
        kind, frames = run_frames(backend, path)
        assert kind is TrapKind.STACK_OVERFLOW
        assert len(frames) >= 20 and frames[0].func_index == 0  # (wasmtime keeps the innermost 20)
        assert {frame.func_index for frame in frames} <= {0, 1}
        # wasmtime finds the overflow at the function's entry (it gives no offset): its first instruction
        assert all(0 < frame.module_offset < len(data) for frame in frames)
        backtrace = resolve(frames, data)
        if len(frames) > 64:
            assert backtrace.lines()[-1] == f"  ... {len(frames) - 64} more frames"
