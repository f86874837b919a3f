"""``wasm-runtime run --trace``: a line per WASI and api.* call, the same on both backends.

The guest (``tests/guests/trace/readpath.c``, rebuilt by its ``build.sh``) asks the host for ``args.path``
through ``api.header_get``, opens that file, reads it and writes its answer with one WASI call each.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from conftest import load_backend
from protocol.harness import RUNTIME

from sysinspect_wasm.backends import BACKEND_NAMES
from sysinspect_wasm.result import HostCall
from sysinspect_wasm.trace import errno_name, host_line, wasi_line

GUEST = Path(__file__).parent / "guests" / "trace" / "readpath.wasm"
CONTENT = b'NAME="Test"\nID=trace\n'


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("trace")
    shutil.copy(GUEST, folder / "readpath.wasm")
    (folder / "os-release").write_bytes(CONTENT)
    return folder


def run(files: Path, backend: str, *extra: str) -> subprocess.CompletedProcess[bytes]:
    load_backend(backend)
    return subprocess.run([str(RUNTIME), "run", str(files / "readpath.wasm"), "--arg", f"path={files}/os-release",
                           "--backend", backend, "--compact", *extra], capture_output=True, timeout=300, check=False)


def trace_lines(stderr: bytes) -> list[str]:
    return [line for line in stderr.decode().splitlines() if line.startswith(("wasi_snapshot_preview1.", "api."))]


def test_the_trace_shows_each_call_the_same_on_both_backends_and_the_answer_is_unchanged(files: Path) -> None:
    traces = {}
    for backend in BACKEND_NAMES:
        plain = run(files, backend)
        traced = run(files, backend, "--trace")
        assert traced.stdout == plain.stdout  # the module's answer on stdout is unchanged
        assert json.loads(traced.stdout)["data"]["bytes"] == len(CONTENT)
        assert trace_lines(plain.stderr) == []  # without --trace, nothing is traced
        traces[backend] = trace_lines(traced.stderr)
    lines = traces[BACKEND_NAMES[0]]
    assert all(traces[backend] == lines for backend in BACKEND_NAMES), traces
    relative = str(files / "os-release").lstrip("/")
    expected = [
        "api.header_get(", "request='/args/path' -> ",
        f"wasi_snapshot_preview1.path_open(fd=3, lookupflags=SYMLINK_FOLLOW, path='{relative}', oflags=0,",
        "-> ESUCCESS fd=4",
        f"wasi_snapshot_preview1.fd_read(fd=4, iovs=1 buffers of 64 bytes) -> ESUCCESS nread={len(CONTENT)} "
        f"data={CONTENT!r}",
        "wasi_snapshot_preview1.fd_close(fd=4) -> ESUCCESS",
        "wasi_snapshot_preview1.fd_write(fd=1, data=b'{\"bytes\": 21, \"lines\": 2}\\n') -> ESUCCESS nwritten=26",
    ]
    text = "\n".join(lines)
    position = 0
    for piece in expected:  # in this order
        found = text.find(piece, position)
        assert found >= 0, f"{piece!r} not after position {position} in:\n{text}"
        position = found + len(piece)
    header_get = next(line for line in lines if line.startswith("api.header_get("))
    assert header_get.endswith(f"wrote=b'\"{files}/os-release\"'")


def test_trace_file_takes_the_lines_instead_of_stderr(files: Path, tmp_path: Path) -> None:
    for backend in BACKEND_NAMES:
        target = tmp_path / f"{backend}.trace"
        traced = run(files, backend, "--trace-file", str(target))
        assert trace_lines(traced.stderr) == []
        written = target.read_text().splitlines()
        assert written == trace_lines(run(files, backend, "--trace").stderr)
        assert json.loads(traced.stdout)["retcode"] == 0
    unwritable = run(files, BACKEND_NAMES[0], "--trace-file", str(tmp_path / "missing" / "x.trace"))
    assert unwritable.returncode == 2 and b"cannot write the trace file" in unwritable.stderr


def test_a_trapping_module_is_traced_up_to_the_trap() -> None:
    guest = Path(__file__).parent / "guests" / "traps" / "trapchain-c.wasm"
    outputs = []
    for backend in BACKEND_NAMES:
        load_backend(backend)
        done = subprocess.run([str(RUNTIME), "run", str(guest), "--backend", backend, "--compact", "--trace"],
                              capture_output=True, timeout=300, check=False)
        outputs.append(trace_lines(done.stderr))
        assert b"backtrace, innermost first" in done.stderr
    assert outputs[0] == outputs[1] and outputs[0]


# -- the lines ------------------------------------------------------------------------------------


def memory(data: dict[int, bytes]) -> object:
    def read(ptr: int, length: int) -> bytes:
        for start, chunk in data.items():
            if start <= ptr < start + len(chunk):
                return chunk[ptr - start : ptr - start + length]
        return b""

    return read


def test_wasi_lines_decode_arguments_flags_and_results() -> None:
    read = memory({100: b"etc/hosts", 200: struct.pack("<I", 7), 300: struct.pack("<II", 400, 5), 400: b"hello",
                   500: struct.pack("<Q", 1 << 40)})
    assert wasi_line("path_open", [3, 1, 100, 9, 1 | 8, 0xFF, 0xFF, 1, 200], 0, read) == (  # type: ignore[arg-type]
        "wasi_snapshot_preview1.path_open(fd=3, lookupflags=SYMLINK_FOLLOW, path='etc/hosts', oflags=CREAT|TRUNC, "
        "base=0xff, inheriting=0xff, fdflags=APPEND) -> ESUCCESS fd=7")
    assert wasi_line("path_open", [3, 0, 100, 9, 0, 0, 0, 0, 200], 44, read) == (  # type: ignore[arg-type]
        "wasi_snapshot_preview1.path_open(fd=3, lookupflags=0, path='etc/hosts', oflags=0, base=0x0, inheriting=0x0, "
        "fdflags=0) -> ENOENT")  # a failed call shows no result
    assert wasi_line("fd_write", [1, 300, 1, 200], 0, read) == (  # type: ignore[arg-type]
        "wasi_snapshot_preview1.fd_write(fd=1, data=b'hello') -> ESUCCESS nwritten=7")
    assert wasi_line("fd_seek", [4, (1 << 64) - 2, 2, 500], 0, read) == (  # type: ignore[arg-type]
        "wasi_snapshot_preview1.fd_seek(fd=4, offset=-2, whence=END) -> ESUCCESS offset=1099511627776")
    assert wasi_line("proc_exit", [3], None, read) == "wasi_snapshot_preview1.proc_exit(code=3)"  # type: ignore[arg-type]
    assert wasi_line("not_a_wasi_call", [1, 2], 0, read) == (  # type: ignore[arg-type]
        "wasi_snapshot_preview1.not_a_wasi_call(1, 2) -> ESUCCESS")
    assert (errno_name(0), errno_name(8), errno_name(76), errno_name(77)) == ("ESUCCESS", "EBADF", "ENOTCAPABLE", "77")


def test_host_lines_show_the_request_the_answer_and_what_was_written() -> None:
    assert host_line(HostCall("header_get", (16, 5, 64, 128), "/opts", b"[]", 2)) == (
        "api.header_get(16, 5, 64, 128) request='/opts' -> 2 wrote=b'[]'")
    long = host_line(HostCall("exec", (1, 2), "x" * 200, b"y" * 200, 200))
    assert "'" + "x" * 64 + "...'" in long and "(200 bytes)" in long
    assert host_line(HostCall("log", (1, 2, 3), "hi")) == "api.log(1, 2, 3) request='hi'"


def test_a_traced_exit_and_a_traced_wasi_trap_end_the_run_as_untraced_ones_do(tmp_path: Path) -> None:
    from conftest import wat_to_wasm

    guests = {
        "exits": '(module (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))'
                 ' (memory (export "memory") 1) (func (export "_start") (call $exit (i32.const 3))))',
        "badpointer": '(module (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32)'
                      ' (result i32))) (memory (export "memory") 1)'
                      ' (func (export "_start") (drop (call $w (i32.const 1) (i32.const 65530) (i32.const 4)'
                      ' (i32.const 0)))))',
    }
    for name, wat in guests.items():
        (tmp_path / f"{name}.wasm").write_bytes(wat_to_wasm(wat))
        for backend in BACKEND_NAMES:
            load_backend(backend)
            command = [str(RUNTIME), "run", str(tmp_path / f"{name}.wasm"), "--backend", backend, "--compact"]
            plain = subprocess.run(command, capture_output=True, timeout=120, check=False)
            traced = subprocess.run([*command, "--trace"], capture_output=True, timeout=120, check=False)
            assert traced.stdout == plain.stdout, (name, backend)
            if name == "exits":
                assert b"module exited with status 3" in traced.stdout
                assert trace_lines(traced.stderr) == ["wasi_snapshot_preview1.proc_exit(code=3)"]


def test_diff_trace_names_the_first_call_where_the_backends_part(files: Path) -> None:
    load_backend(BACKEND_NAMES[0])
    agree = subprocess.run([str(RUNTIME), "diff", str(files / "readpath.wasm"), "--trace", "--examples", "3"],
                           capture_output=True, timeout=600, check=False)
    assert agree.returncode == 0, agree.stdout.decode()
    assert b"trace" not in agree.stdout.split(b"\n", 1)[1]  # silent where the backends agree
    # C's stdio gathers a line into two buffers: wasmtime's fd_write writes the first, the guest the rest
    # in a second call; pywasm writes both at once. The output is the same, the calls are not.
    stdio = Path(__file__).parent.parent / "corpus" / "lib" / "runtime" / "wasm" / "osrelease-c.wasm"
    shutil.copy(stdio, files / "osrelease-c.wasm")
    command = [str(RUNTIME), "diff", str(files / "osrelease-c.wasm"), "--examples", "2", "--seed", "1"]
    untraced = subprocess.run(command, capture_output=True, timeout=600, check=False)
    assert untraced.returncode == 0, untraced.stdout.decode()
    parted = subprocess.run([*command, "--trace"], capture_output=True, timeout=600, check=False)
    report = parted.stdout.decode()
    assert parted.returncode == 1, report
    assert "DIVERGENCE in osrelease-c: trace" in report
    first = report[report.index("trace (#"):]
    assert "wasi_snapshot_preview1.fd_write(fd=1" in first.split("\n\n")[0]
    assert "nwritten=" in first


def test_diff_compares_traces_call_by_call_with_the_clocks_masked() -> None:
    from sysinspect_wasm_differential.compare import RunObservation, compare_runs
    from sysinspect_wasm_differential.normalise import TRACE_CLOCK

    from sysinspect_wasm.result import RunResult

    clock = "wasi_snapshot_preview1.clock_time_get(clockid=REALTIME, precision=1) -> ESUCCESS time="
    write = "wasi_snapshot_preview1.fd_write(fd=1, data=b'x') -> ESUCCESS nwritten=1"

    def compare(left: tuple[str, ...] | None, right: tuple[str, ...] | None) -> list[str]:
        comparison = compare_runs(RunObservation("wasmtime", RunResult(0), trace=left),
                                  RunObservation("pywasm", RunResult(0), trace=right))
        return [str(difference) for difference in comparison.differences] + [n.name for n in comparison.normalised]

    assert compare((clock + "1", write), (clock + "2", write)) == [TRACE_CLOCK.name]
    assert compare((write,), (write.replace("fd=1", "fd=2"),)) == [f"trace (#0): {write} | {write.replace('fd=1', 'fd=2')}"]
    assert compare((write,), (write, write)) == [f"trace (1 vs 2 entries, first extra #1): (no more) | {write}"]
    assert compare((write,), None) == []  # an untraced run compares nothing


_MEMORY = '(memory (export "memory") 1)'  # a traced run needs it


@pytest.mark.parametrize("wat", [
    f'(module {_MEMORY} (func (export "main")))',  # no _start
    f'(module {_MEMORY} (global (export "_start") i32 (i32.const 0)))',  # a _start that is no function
    f'(module {_MEMORY} (func (export "_start") (param i32)))',  # a _start that takes something
    f'(module {_MEMORY} (func (export "_start") unreachable))',
    '(module (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))'
    f' {_MEMORY} (func (export "_start") (call $exit (i32.const 3))))',
    f'(module {_MEMORY} (func (export "_start")))',
], ids=["no-start", "start-not-a-function", "start-with-param", "trap", "exit", "ok"])
def test_a_traced_run_ends_as_an_untraced_one_on_wasmtime(wat: str) -> None:
    # the two ways of running on wasmtime (the lean binding's, wasmtime-py's for --trace) share their ending
    from conftest import wat_to_wasm

    from sysinspect_wasm import RunSpec

    module = load_backend("wasmtime").load(wat_to_wasm(wat), name="ending")
    plain, traced = module.run(RunSpec()), module.run(RunSpec(trace=lambda line: None))
    assert (traced.exit_code, traced.trap) == (plain.exit_code, plain.trap)
