"""PROTOCOL.md sections 1.3-1.7 and 2, row by row, through the installed ``wasm-runtime``.

Every test runs the console script as a subprocess, exactly as a minion does,
and compares the whole response (only log timestamps are normalised). Tests
that run a module do so on both backends, chosen with ``rt.backend``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import wat_to_wasm
from protocol.guests import GUESTS, NOT_WASM, RAW_GUESTS
from protocol.harness import LOGS_KEY, call, call_raw, failed, log_line, ran

from sysinspect_wasm.backends import PYWASM, WASMTIME
from sysinspect_wasm.packagekit import UNREACHABLE_ADDRESS

BACKENDS = (WASMTIME, PYWASM)
SANDBOX_REFUSAL = "api.exec is refused: the runtime runs this module with rt.sandbox"
SANDBOX_PK_REFUSAL = "the PackageKit helpers are refused: the runtime runs this module with rt.sandbox"


@pytest.fixture(scope="session")
def sharelib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sharelib whose module folder holds every test guest, plus things that are not modules."""
    root = tmp_path_factory.mktemp("sharelib")
    folder = root / "lib" / "runtime" / "wasm"
    folder.mkdir(parents=True)
    for name, wat in {**GUESTS, **RAW_GUESTS}.items():
        (folder / f"{name}.wasm").write_bytes(wat_to_wasm(wat))
    for name, data in NOT_WASM.items():
        (folder / f"{name}.wasm").write_bytes(data)
    (folder / "cat.cwasm").write_bytes(b"\x7fELF not a module")
    (folder / "notes.txt").write_text("not a module")
    (folder / ".wasm").write_bytes(wat_to_wasm(GUESTS["text"]))
    (folder / "dir.wasm").mkdir()
    (folder / "link.wasm").symlink_to(folder / "text.wasm")
    (root / "lib" / "runtime" / "outside.wasm").write_bytes(wat_to_wasm(GUESTS["text"]))
    return root


MODULES = sorted([*GUESTS, *RAW_GUESTS, *NOT_WASM])


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend in turn; wasmtime is skipped only where it cannot be imported."""
    if request.param == "wasmtime":
        pytest.importorskip("wasmtime", reason="no wasmtime wheel for this host")
    name: str = request.param
    return name


class Runner:
    """Builds requests for one backend and one sharelib."""

    def __init__(self, backend: str, sharelib: Path) -> None:
        self.backend = backend
        self.sharelib = sharelib

    def request(self, module: str, args: dict[str, Any] | None = None, opts: list[str] | None = None,
                **top: Any) -> dict[str, Any]:
        """A request running ``module`` on this backend from the test sharelib."""
        request: dict[str, Any] = {"args": {"rt.mod": module, "rt.backend": self.backend, **(args or {})}}
        if opts is not None:
            request["opts"] = opts
        request["config"] = {"path.sharelib": str(self.sharelib), **top.pop("config", {})}
        request.update(top)
        return request

    def __call__(self, module: str, args: dict[str, Any] | None = None, opts: list[str] | None = None,
                 **top: Any) -> dict[str, Any]:
        return call(self.request(module, args, opts, **top))


@pytest.fixture
def run(backend: str, sharelib: Path) -> Runner:
    """Run a test guest on the current backend."""
    return Runner(backend, sharelib)


def header_of(runner: Runner, **request: Any) -> dict[str, Any]:
    """The header the ``cat`` guest received for a request built from ``request``."""
    response = runner("cat", **request)
    assert response["retcode"] == 0, response
    data = dict(response["data"])
    assert data.pop(LOGS_KEY) == []
    assert data.pop("changed") is False
    return data


# -- 1.3 runtime arguments and options -----------------------------------------------------


def test_rt_mod_runs_the_module(run: Runner) -> None:
    assert run("text") == ran({"data": "hello from guest\n"})


def test_rt_star_names_never_reach_the_guest(run: Runner) -> None:
    header = header_of(run, args={"key": "VERSION", "rt.custom": 1, "rt.memory-mb": 64, "rt.output-kb": 512},
                       opts=["first", "rt.list-not", "rt.sandbox", "second", "rt.logs"])
    assert header["opts"] == ["first", "second"]
    assert header["args"] == {"key": "VERSION"}


def test_rt_man_adds_the_option_man(run: Runner) -> None:
    assert header_of(run, args={"rt.man": True}, opts=["x"])["opts"] == ["x", "man"]
    assert header_of(run, args={"rt.man": True}, opts=["man"])["opts"] == ["man"]
    assert header_of(run, args={"rt.man": False})["opts"] == []


def test_rt_list_lists_modules_sorted(run: Runner) -> None:
    response = run("", opts=["rt.list"])
    assert response == {"retcode": 0, "message": "Listed available Wasm modules successfully.",
                        "data": {"changed": False, "modules": MODULES}}


def test_rt_list_wins_over_rt_mod(run: Runner) -> None:
    assert run("text", opts=["rt.list"])["data"]["modules"] == MODULES


def test_rt_rootfs_is_the_guests_root(run: Runner, tmp_path: Path) -> None:
    (tmp_path / "marker.txt").write_text('{"marker":"found"}')
    assert run("readmarker", args={"rt.rootfs": str(tmp_path)}) == ran({"marker": "found"})
    assert run("readmarker", args={"rt.rootfs": str(tmp_path) + "/"}) == ran({"marker": "found"})


def test_write_dir_is_the_guests_root_and_is_seen_by_the_guest(run: Runner, tmp_path: Path) -> None:
    (tmp_path / "marker.txt").write_text('{"marker":"found"}')
    assert run("readmarker", args={"write-dir": str(tmp_path)}) == ran({"marker": "found"})
    assert header_of(run, args={"write-dir": str(tmp_path), "rt.rootfs": str(tmp_path)})["args"] == {
        "write-dir": str(tmp_path)}


def test_without_rootfs_the_guest_sees_the_hosts_root(run: Runner) -> None:
    assert not Path("/marker.txt").exists()
    assert run("readmarker") == ran({"marker": "missing"})


def test_root_is_writable_without_sandbox(run: Runner, tmp_path: Path) -> None:
    assert run("writefile", args={"rt.rootfs": str(tmp_path)}) == ran({"write": "done"})
    assert (tmp_path / "written.txt").read_text() == "written by the guest"


def test_missing_write_dir_is_refused_before_the_guest_runs(run: Runner, tmp_path: Path) -> None:
    target = tmp_path / "new" / "root"
    for name in ("write-dir", "rt.rootfs"):
        assert run("writefile", args={name: str(target)}) == failed(
            4, f'Failed to initialize Wasm runtime: the directory of argument "{name}" ({target}) does not exist: '
               "create it first, or name an existing directory")
    assert not (tmp_path / "new").exists()


def test_rootfs_that_is_a_file_is_refused(run: Runner, tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("not a directory")
    assert run("writefile", args={"rt.rootfs": str(target)}) == failed(
        4, f'Failed to initialize Wasm runtime: argument "rt.rootfs" ({target}) is not a directory: '
           'name a directory to show the guest as "/"')
    assert target.read_text() == "not a directory"


def test_relative_rootfs_is_refused(run: Runner) -> None:
    assert run("text", args={"write-dir": "relative/dir"}) == failed(
        4, 'Failed to initialize Wasm runtime: Argument "write-dir" must be an absolute path')
    assert run("text", args={"rt.rootfs": "relative"}) == failed(
        4, 'Failed to initialize Wasm runtime: Argument "rt.rootfs" must be an absolute path')


def test_rootfs_and_write_dir_must_agree(run: Runner, tmp_path: Path) -> None:
    assert run("text", args={"rt.rootfs": str(tmp_path), "write-dir": "/tmp"}) == failed(
        2, f'Invalid request: arguments "rt.rootfs" ({tmp_path}) and "write-dir" (/tmp) disagree: give one of them')


def test_unknown_rt_names_are_ignored_with_a_warning(run: Runner) -> None:
    assert run("text", args={"rt.sandbx": True}, opts=["rt.nope"]) == ran(
        {"data": "hello from guest\n"},
        warning=["unknown runtime argument rt.sandbx ignored (see wasm-runtime --man)",
                 "unknown runtime option rt.nope ignored (see wasm-runtime --man)"])


# -- our own rt.* names ----------------------------------------------------------------------


def test_sandbox_makes_root_read_only(run: Runner, tmp_path: Path) -> None:
    assert run("writefile", args={"rt.rootfs": str(tmp_path)}, opts=["rt.sandbox"]) == ran({"write": "refused"})
    assert list(tmp_path.iterdir()) == []


def test_sandbox_as_an_argument_sandboxes_too(run: Runner, tmp_path: Path) -> None:
    assert run("writefile", args={"rt.rootfs": str(tmp_path), "rt.sandbox": True}) == ran({"write": "refused"})


def test_sandbox_still_reads(run: Runner, tmp_path: Path) -> None:
    (tmp_path / "marker.txt").write_text('{"marker":"read"}')
    assert run("readmarker", args={"rt.rootfs": str(tmp_path)}, opts=["rt.sandbox"]) == ran({"marker": "read"})


def test_sandbox_refuses_exec(run: Runner) -> None:
    assert run("exec", opts=["rt.sandbox"]) == ran({"error": SANDBOX_REFUSAL})


def test_sandbox_does_not_create_a_missing_rootfs(run: Runner, tmp_path: Path) -> None:
    target = tmp_path / "absent"
    assert run("text", args={"rt.rootfs": str(target)}, opts=["rt.sandbox"]) == failed(
        4, f'Failed to initialize Wasm runtime: the directory of argument "rt.rootfs" ({target}) does not exist: '
           "create it first, or name an existing directory")
    assert not target.exists()


def test_memory_limit(run: Runner) -> None:
    assert run("grow", args={"rt.memory-mb": 2}) == failed(
        5, 'Failed to run module "grow": memory limit: the module needs more than 2 MiB of linear memory '
           "(the argument rt.memory-mb raises the limit)")


def test_output_limit(run: Runner) -> None:
    assert run("bigout", args={"rt.output-kb": 64}) == failed(
        5, 'Failed to run module "bigout": output limit: the module wrote more than 64 KiB to its standard output '
           "or more than 64 KiB to its standard error (the argument rt.output-kb raises the limit)")


def test_output_below_the_limit_is_whole(run: Runner) -> None:
    assert run("bigout") == ran({"data": "x" * 100_000})


@pytest.mark.slow
def test_timeout_stops_the_guest(run: Runner) -> None:
    assert run("spin", timeout=1) == failed(
        5, 'Failed to run module "spin": timeout: the module ran longer than the request\'s timeout of 1 s and was stopped')


def test_timeout_zero_means_no_limit(run: Runner) -> None:
    assert run("text", timeout=0) == ran({"data": "hello from guest\n"})


# -- 1.4 the module library ------------------------------------------------------------------


@pytest.mark.parametrize("module_id", ["../x", "../outside", "/etc/passwd", "a/b", "x\u0000y", "", "link", "dir",
                                       "cat.cwasm", "cat.wasm", "notes", "./cat", "CAT", " cat"])
def test_ids_outside_the_listing_are_not_found(run: Runner, module_id: str) -> None:
    assert run(module_id) == failed(4, f'Module "{module_id}" was not found')


def test_missing_rt_mod_is_not_found(sharelib: Path) -> None:
    assert call({"config": {"path.sharelib": str(sharelib)}}) == failed(4, 'Module "" was not found')


def test_unreadable_module_folder_fails_listing(tmp_path: Path) -> None:
    assert call({"opts": ["rt.list"], "config": {"path.sharelib": str(tmp_path)}}) == failed(
        3, f"Failed to get WASM modules: cannot list {tmp_path}/lib/runtime/wasm: No such file or directory")
    assert call({"args": {"rt.mod": "x"}, "config": {"path.sharelib": str(tmp_path)}})["retcode"] == 3


def test_default_sharelib_is_usr_share_sysinspect() -> None:
    if Path("/usr/share/sysinspect/lib/runtime/wasm").exists():
        pytest.skip("this host has a Sysinspect sharelib")
    assert call({"opts": ["rt.list"]}) == failed(
        3, "Failed to get WASM modules: cannot list /usr/share/sysinspect/lib/runtime/wasm: No such file or directory")


def test_empty_sharelib_is_a_setup_error() -> None:
    for value in ("", "/", "  "):
        assert call({"config": {"path.sharelib": value}}) == failed(
            4, 'Failed to initialize Wasm runtime: Config entry "path.sharelib" is missing or empty')


def test_cwasm_beside_a_module_is_ignored(run: Runner) -> None:
    assert run("cat", args={"k": 1})["retcode"] == 0


# -- 1.5 what the guest receives -------------------------------------------------------------


def test_header_is_the_whole_request_for_the_guest(run: Runner) -> None:
    header = header_of(run, args={"b": 1, "a": [1, {"x": None}]}, opts=["z", "a"],
                       host={"traits": {"system.hostname": "db1"}}, ext={"e": 1}, other=True,
                       config={"minion.id": "m1"})
    assert header == {"opts": ["z", "a"], "args": {"b": 1, "a": [1, {"x": None}]},
                      "config": {"path.sharelib": run.sharelib.as_posix(), "minion.id": "m1"},
                      "ext": {"e": 1, "other": True}, "host": {"traits": {"system.hostname": "db1"}}}
    assert list(header) == ["opts", "args", "config", "ext", "host"]
    assert list(header["args"]) == ["b", "a"]


def test_header_defaults(run: Runner) -> None:
    assert header_of(run) == {"opts": [], "args": {}, "config": {"path.sharelib": str(run.sharelib)}, "ext": {},
                              "host": {}}


def test_top_level_keys_win_over_ext(run: Runner) -> None:
    assert header_of(run, ext={"k": "inner", "keep": 1}, k="outer")["ext"] == {"k": "outer", "keep": 1}


def test_header_bytes_are_compact_utf8_and_end_with_a_newline(run: Runner) -> None:
    request = run.request("catlog", args={"ключ": "значение", "n": 1.5}, opts=["ö"], host={"a": [1, 2]})
    header = {"opts": ["ö"], "args": {"ключ": "значение", "n": 1.5}, "config": {"path.sharelib": str(run.sharelib)},
              "ext": {}, "host": {"a": [1, 2]}}
    line = json.dumps(header, separators=(",", ":"), ensure_ascii=False)
    assert call(request) == ran({"data": None}, logs=[log_line("INFO", "catlog", line + "\n")])


def test_guest_gets_argv0_only(run: Runner) -> None:
    assert run("argc") == ran({"data": 1})


# -- 1.6 output to data ----------------------------------------------------------------------


@pytest.mark.parametrize(("module", "data"), [
    ("list", {"data": [1, 2, 3]}),
    ("number", {"data": 42}),
    ("string", {"data": "hi"}),
    ("text", {"data": "hello from guest\n"}),
    ("notjson", {"data": "NaN"}),
    ("empty", {"data": None}),
    ("blank", {"data": None}),
    ("unicode", {"name": "Müller", "emoji": "✓"}),
])
def test_output_mapping(run: Runner, module: str, data: dict[str, Any]) -> None:
    assert run(module) == ran(data)


def test_object_output_is_merged_and_logs_replace_the_guests_keys(run: Runner) -> None:
    logs = [log_line("DEBUG", "object", "debug line"), log_line("INFO", "object", "info line"),
            log_line("WARN", "object", "warn line"), log_line("ERROR", "object", "error line"),
            log_line("INFO", "object", "odd level")]
    response = run("object")
    assert response == {"retcode": 0, "message": "Wasm runtime executed successfully",
                        "data": {"changed": True, "x": 1, LOGS_KEY: logs}}


def test_proc_exit_zero_is_success(run: Runner) -> None:
    assert run("exit0") == ran({"a": 1})


def test_response_line_is_compact_serde_json(run: Runner) -> None:
    answer = call_raw(json.dumps(run.request("unicode")).encode())
    assert answer.line == ('{"retcode":0,"message":"Wasm runtime executed successfully","data":{"changed":false,'
                           '"name":"Müller","emoji":"✓","__sysinspect-module-logs":[]}}\n').encode()


def test_guest_stderr_goes_to_stderr_and_a_warning(run: Runner) -> None:
    answer = call_raw(json.dumps(run.request("stderr")).encode())
    assert answer.response == ran({"ok": True}, warning=['module "stderr" wrote to its standard error: oops: something odd'])
    assert "oops: something odd" in answer.stderr


# -- 1.7 return codes and messages -----------------------------------------------------------


def test_nonzero_exit(run: Runner) -> None:
    assert run("exit3") == failed(5, 'Failed to run module "exit3": module exited with status 3')


def test_logs_are_kept_when_the_guest_fails(run: Runner) -> None:
    assert run("logfail") == failed(5, 'Failed to run module "logfail": module exited with status 2',
                                    logs=[log_line("ERROR", "logfail", "giving up")])


@pytest.mark.parametrize(("module", "words"), [
    ("unreachable", "unreachable instruction executed in main"),  # the innermost named frame: the guest's $main
    ("divzero", "integer divide by zero in main"),
    ("oob", "out of bounds memory access in main"),
    ("overflow", "integer overflow in main"),
    ("conversion", "invalid conversion to integer in main"),
    ("recurse", "call stack exhausted"),  # where the stack ran out differs between the backends: no frame
])
def test_traps(run: Runner, module: str, words: str) -> None:
    assert run(module) == failed(5, f'Failed to run module "{module}": wasm trap: {words}')


@pytest.mark.parametrize(("module", "reason"), [
    ("garbage", "invalid module: the file is not a WebAssembly binary (it does not start with the bytes \\0asm)"),
    ("truncated", "invalid module: the file is truncated or its sections are malformed"),
    ("component", "invalid module: the file is not a WebAssembly core module of version 1"),
    ("badimport", "link error: the module imports function api.nonexistent, which this runtime does not provide"),
    ("foreign", "link error: the module imports function env.abort, which this runtime does not provide"),
    ("badsig", "link error: the module imports api.log as (i32) -> (), but the host provides (i32, i32, i32) -> ()"),
    ("nostart", "link error: the module exports no _start function: it is not a WASI command"),
])
def test_modules_that_cannot_run(run: Runner, module: str, reason: str) -> None:
    assert run(module) == failed(5, f'Failed to run module "{module}": {reason}')


def test_stdout_that_is_not_utf8(run: Runner) -> None:
    assert run("nonutf8") == failed(
        6, "Failed to set response data: the module's standard output is not valid UTF-8 (byte 0xff at offset 0)")


# -- 2 the host API --------------------------------------------------------------------------


def test_api_exec_runs_a_host_command(run: Runner) -> None:
    assert run("exec") == ran({"exit_code": 0, "stdout": "hi\n", "stderr": ""})


def test_api_exec_of_a_missing_program_gives_127(run: Runner) -> None:
    response = run("execmissing")
    data = response["data"]
    assert response["retcode"] == 0 and data["exit_code"] == 127 and data["stdout"] == ""
    assert "/nonexistent/program" in data["stderr"]


def test_api_header_writes_the_header(run: Runner) -> None:
    header = header_of(run, args={"k": "v"})
    assert run("header", args={"k": "v"}) == ran(header)


def test_api_header_bad_pointer_is_minus_two(run: Runner) -> None:
    assert run("headerbad") == ran({"bad_call": -2})


def test_api_header_get_and_has(run: Runner) -> None:
    response = run("headerprobe", args={"key": "VERSION"}, host={"traits": {"system.hostname": "db1"}})
    assert response == ran({"data": ["VERSION", "db1", None, True, False]})


PACKAGEKIT_GUEST = """(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "api" "packagekit_available" (func $available (result i32)))
  (import "api" "packagekit_status" (func $status (param i32 i32) (result i32)))
  (import "api" "packagekit_install" (func $install (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "{\\"names\\":[\\"pkg\\"]}")
  (func (export "_start")
    (drop (call $available))
    (drop (call $install (i32.const 100) (i32.const 16) (i32.const 2048) (i32.const 1024)))
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (call $status (i32.const 1024) (i32.const 1024)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"""


def test_packagekit_importers_link_and_run(backend: str, tmp_path: Path) -> None:
    folder = tmp_path / "lib" / "runtime" / "wasm"
    folder.mkdir(parents=True)
    (folder / "pk.wasm").write_bytes(wat_to_wasm(PACKAGEKIT_GUEST))
    request = {"args": {"rt.mod": "pk", "rt.backend": backend}, "config": {"path.sharelib": str(tmp_path)}}
    # a bus that cannot be reached: this guest asks to install a package
    response = call(request, env={"DBUS_SYSTEM_BUS_ADDRESS": UNREACHABLE_ADDRESS})
    assert response == ran({"error": "Error loading module: PackageKit D-Bus error: cannot connect to the system bus: "
                                     "[Errno 2] No such file or directory"})
    sandboxed = call({**request, "opts": ["rt.sandbox"]})
    assert sandboxed == ran({"error": SANDBOX_PK_REFUSAL})


# -- processes that misbehave ----------------------------------------------------------------

FAKE_BACKEND = '''
import os, sys, time
from sysinspect_wasm.executor import Backend, Module

class _Module(Module):
    name = "fake"
    def module_bytes(self):
        return None
    def run(self, spec):
        mode = os.environ["FAKE_MODE"]
        if mode == "hang":
            time.sleep(3600)
        if mode == "noisy":
            print("noise on stdout from a library")
            os.write(1, b"native noise\\n")
            from sysinspect_wasm.result import RunResult
            return RunResult(exit_code=0, stdout=b'{"quiet":true}')
        raise RuntimeError("boom")
    def instantiate(self, limits=None):
        raise NotImplementedError

class WasmtimeBackend(Backend):
    name = "wasmtime"
    def load(self, wasm, *, name=None):
        return _Module()
'''


@pytest.fixture
def fake_wasmtime(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An environment whose ``wasmtime`` backend is a scripted fake (shadowing the real package)."""
    package = tmp_path / "fake" / "sysinspect_wasm_production"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(FAKE_BACKEND)
    yield {"PYTHONPATH": str(tmp_path / "fake")}


def test_an_internal_error_is_a_response_with_the_traceback_on_stderr(sharelib: Path, fake_wasmtime: dict[str, str]) -> None:
    request = {"args": {"rt.mod": "text", "rt.backend": "wasmtime"}, "config": {"path.sharelib": str(sharelib)}}
    answer = call_raw(json.dumps(request).encode(), env={**fake_wasmtime, "FAKE_MODE": "raise"})
    assert answer.response == failed(
        1, "Internal error in the Wasm runtime: RuntimeError: boom (traceback on the runtime's standard error)")
    assert "Traceback" in answer.stderr


def test_stray_output_never_reaches_stdout(sharelib: Path, fake_wasmtime: dict[str, str]) -> None:
    request = {"args": {"rt.mod": "text", "rt.backend": "wasmtime"}, "config": {"path.sharelib": str(sharelib)}}
    answer = call_raw(json.dumps(request).encode(), env={**fake_wasmtime, "FAKE_MODE": "noisy"})
    assert answer.response == ran({"quiet": True})
    assert "noise on stdout" in answer.stderr and "native noise" in answer.stderr


@pytest.mark.slow
def test_a_backend_that_ignores_the_timeout_is_answered_for(sharelib: Path, fake_wasmtime: dict[str, str]) -> None:
    request = {"args": {"rt.mod": "spin", "rt.backend": "wasmtime"}, "config": {"path.sharelib": str(sharelib)},
               "timeout": 1}
    answer = call_raw(json.dumps(request).encode(), env={**fake_wasmtime, "FAKE_MODE": "hang"}, timeout=60)
    assert answer.response == failed(
        5, 'Failed to run module "spin": timeout: the module ran longer than the request\'s timeout of 1 s and was stopped',
        warning=["the backend did not stop the module in time: the runtime stopped it 5 s later"])


def test_unavailable_backend_is_a_setup_error_and_auto_falls_back(sharelib: Path, tmp_path: Path) -> None:
    package = tmp_path / "broken" / "sysinspect_wasm_production"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('No module named wasmtime', name='wasmtime')\n")
    env = {"PYTHONPATH": str(tmp_path / "broken")}
    base = {"config": {"path.sharelib": str(sharelib)}}
    response = call({**base, "args": {"rt.mod": "text", "rt.backend": "wasmtime"}}, env=env)
    assert response["retcode"] == 4
    assert response["message"].startswith("Failed to initialize Wasm runtime: the wasmtime backend is unavailable")
    assert call({**base, "args": {"rt.mod": "text"}}, env=env) == ran(
        {"data": "hello from guest\n"},
        warning=["wasmtime cannot be used here: the module ran on the pywasm backend (much slower)"])
