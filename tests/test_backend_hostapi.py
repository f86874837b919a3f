"""Every ``api`` host function, called by real guests on both backends, bad pointers included."""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass, field

import pytest
from conftest import wat_to_wasm
from wasi_wat import FD_WRITE, PROC_EXIT, wat_bytes

from sysinspect_wasm import Backend, HostContext, RunResult, RunSpec
from sysinspect_wasm.commands import CommandOutcome
from sysinspect_wasm.packagekit import PackageKit

REQ = 1024  # where the guest keeps the request bytes
OUT = 4096  # where the host writes its answer
HEADER = {"opts": ["check"], "args": {"key": "VERSION", "ключ": "значение"}, "config": {"path.sharelib": "/srv"},
          "ext": {}, "host": {"traits": {"system.hostname": "db1"}, "list": [10, 20]}}


def api_guest(function: str, params: int, args: list[int | str], request: bytes = b"", *, memory: bool = True) -> bytes:
    """A guest calling ``api.<function>`` once; it prints the i32 result (4 bytes LE) then the answer buffer.

    (Two fd_write calls: a WASI stdout may write only the first iovec of a call, as wasmtime's does.)

    ``args`` are i32 values, or "req"/"len"/"out" for the request pointer, its length and the answer buffer.
    Without an exported memory (where WASI itself cannot work) the guest returns normally when the result
    is -2 and executes ``unreachable`` otherwise.
    """
    values = {"req": REQ, "len": len(request), "out": OUT}
    call_args = " ".join(f"(i32.const {values[a] if isinstance(a, str) else a})" for a in args)
    sig = "(param" + " i32" * params + ")" + ("" if function == "log" else " (result i32)")
    call = f"(call $f {call_args})"
    if function == "log":
        call = f"{call} (i32.const 0)"
    if memory:
        body = f"""
    (local $r i32)
    (local.set $r {call})
    (i32.store (i32.const 0) (local.get $r))
    (i32.store (i32.const 16) (i32.const 0)) (i32.store (i32.const 20) (i32.const 4))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 16) (i32.const {OUT}))
    (i32.store (i32.const 20) (select (local.get $r) (i32.const 0) (i32.gt_s (local.get $r) (i32.const 0))))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 8)))"""
        mem = f'(memory (export "memory") 1) (data (i32.const {REQ}) {wat_bytes(request)})'
    else:
        body = f"(if (i32.ne {call} (i32.const -2)) (then unreachable))"
        mem = "(memory 1)"
    return wat_to_wasm(f"""(module {FD_WRITE} {PROC_EXIT}
  (import "api" "{function}" (func $f {sig}))
  {mem}
  (func (export "_start") {body}))""")


def answer(result: RunResult) -> tuple[int, bytes]:
    """The guest's printed (result, answer bytes)."""
    assert result.ok, f"guest failed: {result.trap} exit={result.exit_code} stderr={result.stderr!r}"
    (value,) = struct.unpack("<i", result.stdout[:4])
    return value, result.stdout[4:]


def run(backend: Backend, wasm: bytes, host: HostContext | None = None) -> RunResult:
    return backend.load(wasm, name="api-guest").run(RunSpec(host=host or HostContext(module_id="probe", header=HEADER)))


# -- api.log -------------------------------------------------------------------

LOG_LINE = re.compile(r"^\[\d\d/\d\d/\d{4} \d\d:\d\d:\d\d\] - (DEBUG|INFO|WARN|ERROR): \[probe\] (.*)$")


@pytest.mark.parametrize(("level", "name"), [(0, "DEBUG"), (1, "INFO"), (2, "WARN"), (3, "ERROR"), (9, "INFO"), (-1, "INFO")])
def test_log_levels(backend: Backend, level: int, name: str) -> None:
    result = run(backend, api_guest("log", 3, [level, "req", "len"], "héllo wörld".encode()))
    assert result.ok
    assert len(result.logs) == 1
    match = LOG_LINE.match(result.logs[0])
    assert match is not None, result.logs[0]
    assert match.groups() == (name, "héllo wörld")


@pytest.mark.parametrize(
    ("ptr", "length", "payload"),
    [(-1, 5, b"hello"), (REQ, 0, b"hello"), (REQ, -4, b"hello"), (65530, 10, b""), (REQ, 3, b"\xff\xfe\xfd")],
    ids=["negative-pointer", "zero-length", "negative-length", "outside-memory", "invalid-utf8"],
)
def test_bad_log_calls_are_ignored(backend: Backend, ptr: int, length: int, payload: bytes) -> None:
    result = run(backend, api_guest("log", 3, [1, ptr, length], payload))
    assert result.ok
    assert result.logs == []
    assert [c.function for c in result.host_calls] == ["log"]


# -- api.header, header_has, header_get -------------------------------------------

def expected_header() -> bytes:
    return json.dumps(HEADER, separators=(",", ":"), ensure_ascii=False).encode()


def test_header_is_compact_utf8_json(backend: Backend) -> None:
    value, data = answer(run(backend, api_guest("header", 2, ["out", 2000])))
    assert data == expected_header()
    assert value == len(data)
    assert b"\\u" not in data and "значение".encode() in data


def test_header_is_cut_to_the_capacity(backend: Backend) -> None:
    value, data = answer(run(backend, api_guest("header", 2, ["out", 7])))
    assert (value, data) == (7, expected_header()[:7])


@pytest.mark.parametrize(
    ("pointer", "found"),
    [("/args/key", 1), ("  /args/key \n", 1), ("  ", 1), ("", -2), ("/host/traits/system.hostname", 1), ("/host/list/1", 1),
     ("/host/list/01", 0), ("/host/list/2", 0), ("/args/missing", 0), ("args", 0), ("/args/ключ", 1)],
)
def test_header_has(backend: Backend, pointer: str, found: int) -> None:
    value, _ = answer(run(backend, api_guest("header_has", 2, ["req", "len"], pointer.encode())))
    assert value == found


@pytest.mark.parametrize(
    ("pointer", "value"),
    [("/args/key", "VERSION"), ("/host/traits", {"system.hostname": "db1"}), ("/host/list/0", 10),
     ("/nope", None), ("/args/ключ", "значение")],
)
def test_header_get(backend: Backend, pointer: str, value: object) -> None:
    written, data = answer(run(backend, api_guest("header_get", 4, ["req", "len", "out", 500], pointer.encode())))
    assert json.loads(data) == value
    assert written == len(data)


# -- api.exec ---------------------------------------------------------------------

def test_exec_runs_a_host_command(backend: Backend) -> None:
    request = json.dumps({"argv": ["/bin/echo", "hello", "world"]}).encode()
    written, data = answer(run(backend, api_guest("exec", 4, ["req", "len", "out", 2000], request)))
    assert json.loads(data) == {"exit_code": 0, "stdout": "hello world\n", "stderr": ""}
    assert written == len(data)


def test_exec_honours_cwd(backend: Backend, tmp_path: object) -> None:
    request = json.dumps({"argv": ["/bin/pwd"], "cwd": str(tmp_path)}).encode()
    _, data = answer(run(backend, api_guest("exec", 4, ["req", "len", "out", 2000], request)))
    assert json.loads(data)["stdout"].strip() == str(tmp_path)


def test_exec_of_a_missing_command_gives_127(backend: Backend) -> None:
    request = json.dumps({"argv": ["/no/such/command"]}).encode()
    _, data = answer(run(backend, api_guest("exec", 4, ["req", "len", "out", 2000], request)))
    outcome = json.loads(data)
    assert outcome["exit_code"] == 127 and "/no/such/command" in outcome["stderr"]


def test_exec_refused_when_the_host_forbids_it(backend: Backend) -> None:
    host = HostContext(module_id="probe", allow_exec=False, exec_refusal="api.exec is disabled by rt.sandbox")
    request = json.dumps({"argv": ["/bin/echo", "no"]}).encode()
    _, data = answer(run(backend, api_guest("exec", 4, ["req", "len", "out", 2000], request), host))
    assert json.loads(data) == {"error": "api.exec is disabled by rt.sandbox"}


@pytest.mark.parametrize(
    "request_bytes",
    [b'{"argv": []}', b'{"argv": "uname"}', b'{"argv": [1]}', b"[1, 2]", b"not json", b"\xff\xfe",
     b'{"argv": ["/bin/true"], "cwd": 5}', b'{"cmd": "ls"}'],
    ids=["empty-argv", "argv-string", "argv-number", "list", "not-json", "not-utf8", "cwd-number", "no-argv"],
)
def test_exec_bad_requests_return_minus_two(backend: Backend, request_bytes: bytes) -> None:
    value, data = answer(run(backend, api_guest("exec", 4, ["req", "len", "out", 2000], request_bytes)))
    assert (value, data) == (-2, b"")


# -- bad pointers, for every function that takes any ------------------------------

BAD_CALLS: dict[str, tuple[int, list[int | str]]] = {
    "exec/negative-request": (4, [-8, "len", "out", 100]),
    "exec/zero-capacity": (4, ["req", "len", "out", 0]),
    "exec/output-outside-memory": (4, ["req", "len", 65500, 100]),
    "header/negative-out": (2, [-1, 100]),
    "header/zero-capacity": (2, ["out", 0]),
    "header/negative-capacity": (2, ["out", -100]),
    "header/outside-memory": (2, [65536, 4]),
    "header/straddles-end": (2, [65530, 100]),
    "header_has/negative": (2, [-5, 3]),
    "header_has/zero-length": (2, ["req", 0]),
    "header_has/outside-memory": (2, [70000, 3]),
    "header_get/zero-capacity": (4, ["req", "len", "out", 0]),
    "header_get/out-outside": (4, ["req", "len", 0x7FFFFFFF, 10]),
    "header_get/request-outside": (4, [65535, 2, "out", 10]),
    "packagekit_status/zero-capacity": (2, ["out", 0]),
    "packagekit_packages/outside": (2, [65536, 10]),
    "packagekit_install/bad-request": (4, [-1, "len", "out", 10]),
    "packagekit_history/zero-capacity": (4, ["req", "len", "out", 0]),
    "packagekit_remove/outside": (4, ["req", "len", 65535, 10]),
    "packagekit_upgrade/negative-length": (4, ["req", -1, "out", 10]),
}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_bad_pointers_return_minus_two(backend: Backend, case: str) -> None:
    function = case.split("/")[0]
    params, args = BAD_CALLS[case]
    request = b'{"argv": ["/bin/echo"], "names": ["x"]}' if function == "exec" or "packagekit" in function else b"/args"
    value, data = answer(run(backend, api_guest(function, params, args, request)))
    assert (value, data) == (-2, b"")


@pytest.mark.parametrize("function", ["header", "header_has", "header_get", "exec", "packagekit_status"])
def test_a_guest_without_memory_gets_minus_two(backend: Backend, function: str) -> None:
    from sysinspect_wasm.hostapi import HOST_FUNCTIONS

    params = len(HOST_FUNCTIONS[function][0])
    args: list[int | str] = [0, 4, 100, 50]
    args = args[:params]
    result = run(backend, api_guest(function, params, args, memory=False))
    assert (result.trap, result.exit_code) == (None, 0)


# -- PackageKit ---------------------------------------------------------------------

def test_packagekit_absent_on_this_host(backend: Backend) -> None:
    host = HostContext(module_id="probe", packagekit=PackageKit(probe=lambda: False))
    value, _ = answer(run(backend, api_guest("packagekit_available", 0, []), host))
    assert value == 0
    _, data = answer(run(backend, api_guest("packagekit_status", 2, ["out", 500]), host))
    assert json.loads(data) == {"error": "PackageKit is not available on this host"}
    _, data = answer(run(backend, api_guest("packagekit_install", 4, ["req", "len", "out", 500], b'{"names": ["vim"]}'), host))
    assert json.loads(data) == {"error": "PackageKit is not available on this host"}


@dataclass
class FakePkcon:
    """Test double for the PackageKit daemon boundary: records pkcon invocations instead of running them."""

    seen: list[list[str]] = field(default_factory=list)

    def __call__(self, argv: list[str], cwd: str | None, timeout: float | None) -> CommandOutcome:
        self.seen.append(argv)
        return CommandOutcome(0, "done: " + " ".join(argv[2:]), "")


@pytest.mark.parametrize(
    ("function", "request_bytes", "pkcon_args"),
    [
        ("packagekit_install", b'{"names": ["vim", "git"]}', ["-y", "install", "vim", "git"]),
        ("packagekit_remove", b'{"names": ["vim"]}', ["-y", "remove", "vim"]),
        ("packagekit_upgrade", b'{"names": []}', ["-y", "update"]),
        ("packagekit_history", b'{"names": ["vim"], "count": 3}', ["get-transactions", "3"]),
    ],
)
def test_packagekit_requests_reach_pkcon(backend: Backend, function: str, request_bytes: bytes, pkcon_args: list[str]) -> None:
    fake = FakePkcon()
    host = HostContext(module_id="probe", packagekit=PackageKit(commands=fake, probe=lambda: True))
    _, data = answer(run(backend, api_guest(function, 4, ["req", "len", "out", 1000], request_bytes), host))
    assert fake.seen == [["pkcon", "--plain", *pkcon_args]]
    assert json.loads(data)["exit_code"] == 0


@pytest.mark.parametrize("request_bytes", [b'{"names": "vim"}', b"[]", b'{"names": [1]}', b'{"names": []}'])
def test_packagekit_install_bad_requests(backend: Backend, request_bytes: bytes) -> None:
    fake = FakePkcon()
    host = HostContext(module_id="probe", packagekit=PackageKit(commands=fake, probe=lambda: True))
    value, _ = answer(run(backend, api_guest("packagekit_install", 4, ["req", "len", "out", 1000], request_bytes), host))
    assert value == -2 and fake.seen == []


def test_host_calls_are_recorded(backend: Backend) -> None:
    result = run(backend, api_guest("header_has", 2, ["req", "len"], b"/args/key"))
    (call,) = result.host_calls
    assert (call.function, call.request, call.result) == ("header_has", "/args/key", 1)
