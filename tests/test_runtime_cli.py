"""The command line (PROTOCOL.md 1.8): -m, -l, -s, -i, --version, --help, and developer mode ``run``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import wat_to_wasm
from protocol.guests import GUESTS, guest
from protocol.harness import LOGS_KEY, RUNTIME
from sysinspect_wasm_runtime import __version__
from sysinspect_wasm_runtime.request import RT_ARGUMENTS, RT_OPTIONS

from sysinspect_wasm.hostapi import HOST_FUNCTIONS

DOC = {
    "name": "doc", "version": "1.2", "author": "Tester", "description": "Reads things.\nSecond line.",
    "arguments": [{"name": "key", "type": "string", "required": False, "default": "VERSION", "description": "Which key"},
                  {"name": "path", "required": True, "description": "Where"}],
    "options": [{"name": "nohello", "description": "No greeting"}],
    "examples": [{"description": "Read the version", "code": '{"args": {"key": "VERSION"}}'}],
    "returns": {"description": "The value", "sample": {"VERSION": "12"}},
}
DOC_TEXT = """\
Name:
  doc

Meta:
  Version: 1.2
  Author: Tester

Description:
  Reads things.
  Second line.

Keyword arguments:
  key (type: string, default: VERSION)
    Which key

  path (type: <any>, required)
    Where

Options:
  nohello
    No greeting

Usage examples:
  1. Read the version
       {"args": {"key": "VERSION"}}

Returns:
  The value
    {
      "VERSION": "12"
    }
"""
DOC_GUEST = guest("(if (call $header_has $P #P) (then (call $out $D #D)) (else (call $out $N #N)))",
                  {"P": "/opts/0", "D": json.dumps(DOC), "N": "no options, no manual"})


def cli(*args: str, stdin: bytes = b"", cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed ``wasm-runtime`` with ``args``."""
    done = subprocess.run([str(RUNTIME), *args], input=stdin, capture_output=True, timeout=120, cwd=cwd, check=False)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())


@pytest.fixture(scope="module")
def sharelib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small sharelib: cat, text, exit3 and a documented module."""
    root = tmp_path_factory.mktemp("cli-sharelib")
    folder = root / "lib" / "runtime" / "wasm"
    folder.mkdir(parents=True)
    for name in ("cat", "text", "exit3"):
        (folder / f"{name}.wasm").write_bytes(wat_to_wasm(GUESTS[name]))
    (folder / "doc.wasm").write_bytes(wat_to_wasm(DOC_GUEST))
    return root


@pytest.fixture(scope="module")
def loose(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``cat`` guest as a loose file outside any sharelib."""
    path = tmp_path_factory.mktemp("loose") / "catty.wasm"
    path.write_bytes(wat_to_wasm(GUESTS["cat"]))
    return path


def test_help_teaches(tmp_path: Path) -> None:
    done = cli("--help")
    assert done.returncode == 0
    for text in ("protocol mode", "wasm-runtime run ./build/hello.wasm", "--embedded", "-i MODULE", "--sharelib PATH",
                 "sysinspect module -A", "runtime.wasm", "wasm-runtime bundle", "module: wasm.<id>"):
        assert text in done.stdout
    run_help = cli("run", "--help")
    assert run_help.returncode == 0 and "KEY:=JSON" in run_help.stdout and "exit status is the response's retcode" in run_help.stdout


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag: str) -> None:
    done = cli(flag)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"wasm-runtime {__version__}\n", "")


def test_python_dash_m() -> None:
    done = subprocess.run([sys.executable, "-m", "sysinspect_wasm_runtime", "--version"], capture_output=True, text=True,
                          check=False)
    assert (done.returncode, done.stdout) == (0, f"wasm-runtime {__version__}\n")


def test_manual_documents_every_runtime_name() -> None:
    done = cli("--man")
    assert done.returncode == 0 and cli("-m").stdout == done.stdout
    for name in [*RT_ARGUMENTS, *RT_OPTIONS, "write-dir", *HOST_FUNCTIONS, "__sysinspect-module-logs"]:
        assert name in done.stdout, name
    for code in range(7):
        assert f"\n  {code}  " in done.stdout


def test_list_modules(sharelib: Path) -> None:
    done = cli("-l", "-s", str(sharelib))
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == (f"Available Wasm/WASI modules in {sharelib}/lib/runtime/wasm:\n"
                           " 1. cat\n 2. doc\n 3. exit3\n 4. text\n")
    assert cli("--list-modules", "--sharelib", str(sharelib)).stdout == done.stdout


def test_list_modules_of_a_missing_sharelib(tmp_path: Path) -> None:
    done = cli("-l", "-s", str(tmp_path))
    assert done.returncode == 3
    assert done.stderr == (f"wasm-runtime: Failed to get WASM modules: cannot list {tmp_path}/lib/runtime/wasm: "
                           "No such file or directory ('wasm-runtime --embedded -l' lists the modules shipped with this runtime)\n")


def test_info_renders_the_modules_documentation(sharelib: Path) -> None:
    done = cli("-i", "doc", "-s", str(sharelib))
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == DOC_TEXT


def test_info_on_a_module_without_documentation(sharelib: Path) -> None:
    done = cli("-i", "text", "-s", str(sharelib))
    assert done.returncode == 1
    assert "printed no documentation object" in done.stderr
    assert json.loads(done.stdout)["data"]["data"] == "hello from guest\n"


def test_info_on_a_missing_module(sharelib: Path) -> None:
    done = cli("--info", "nope", "-s", str(sharelib))
    assert (done.returncode, done.stderr) == (4, 'wasm-runtime: Module "nope" was not found\n')


@pytest.mark.parametrize("args", [("-l", "-m"), ("-i", "x", "-l"), ("-m", "run", "x.wasm")])
def test_flags_that_exclude_each_other(args: tuple[str, ...]) -> None:
    done = cli(*args)
    assert done.returncode == 2 and "cannot be combined" in done.stderr


def test_nothing_to_do() -> None:
    done = cli("-s", "/tmp")
    assert done.returncode == 2 and "nothing to do" in done.stderr


def test_unknown_flag_is_a_usage_error() -> None:
    done = cli("--frobnicate")
    assert done.returncode == 2 and "unrecognized arguments" in done.stderr


def run_json(*args: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """``wasm-runtime run ...``: exit status and the parsed response."""
    done = cli("run", *args, **kwargs)
    assert done.stdout.startswith("{\n"), done
    return done.returncode, json.loads(done.stdout)


def test_run_a_loose_file_builds_the_request(loose: Path) -> None:
    status, response = run_json(str(loose), "--arg", "key=VERSION", "--arg", "n:=3", "--arg", 'l:=["a"]',
                                "--opt", "first", "--opt", "second", "--config", "minion.id=m1", "--backend", "pywasm")
    assert status == 0
    assert response == {"retcode": 0, "message": "Wasm runtime executed successfully", "data": {
        "changed": False, "opts": ["first", "second"], "args": {"key": "VERSION", "n": 3, "l": ["a"]},
        "config": {"minion.id": "m1", "path.sharelib": "/usr/share/sysinspect"}, "ext": {}, "host": {},
        LOGS_KEY: []}}


def test_run_a_file_in_a_sharelib_uses_that_sharelib(sharelib: Path) -> None:
    status, response = run_json(str(sharelib / "lib/runtime/wasm/cat.wasm"), "-b", "pywasm")
    assert status == 0
    assert response["data"]["config"] == {"path.sharelib": str(sharelib)}


def test_run_an_id_from_a_sharelib(sharelib: Path) -> None:
    status, response = run_json("text", "-s", str(sharelib), "-b", "pywasm")
    assert (status, response["data"]["data"]) == (0, "hello from guest\n")


def test_run_exit_status_is_the_retcode(sharelib: Path) -> None:
    status, response = run_json("exit3", "-s", str(sharelib), "-b", "pywasm")
    assert status == 5 == response["retcode"]
    status, response = run_json("absent", "-s", str(sharelib))
    assert (status, response["message"]) == (4, 'Module "absent" was not found')


def test_run_with_request_and_host_files(loose: Path, tmp_path: Path) -> None:
    (tmp_path / "request.json").write_text(json.dumps({"opts": ["from-file"], "args": {"a": 1}, "timeout": 9, "x": 1}))
    (tmp_path / "host.json").write_text(json.dumps({"traits": {"system.hostname": "db1"}}))
    status, response = run_json(str(loose), "--request", str(tmp_path / "request.json"), "--host-json",
                                str(tmp_path / "host.json"), "--opt", "flag", "--arg", "b=2", "-b", "pywasm")
    assert status == 0
    data = response["data"]
    assert (data["opts"], data["args"], data["ext"], data["host"]) == (
        ["from-file", "flag"], {"a": 1, "b": "2"}, {"x": 1}, {"traits": {"system.hostname": "db1"}})


def test_run_maps_runtime_flags_to_rt_names(loose: Path, tmp_path: Path) -> None:
    status, response = run_json(str(loose), "--sandbox", "--timeout", "30", "--memory-mb", "64", "--output-kb", "128",
                                "--rootfs", str(tmp_path), "-b", "pywasm")
    assert status == 0 and response["data"]["opts"] == [] and response["data"]["args"] == {}


def test_run_compact_prints_the_protocol_line(sharelib: Path) -> None:
    done = cli("run", "text", "-s", str(sharelib), "-b", "pywasm", "--compact")
    assert done.stdout == ('{"retcode":0,"message":"Wasm runtime executed successfully","data":{"changed":false,'
                           '"data":"hello from guest\\n","__sysinspect-module-logs":[]}}\n')


@pytest.mark.parametrize(("args", "error"), [
    (("./missing.wasm",), "no such module file: ./missing.wasm"),
    (("cat", "--arg", "novalue"), "--arg wants KEY=VALUE or KEY:=JSON, not 'novalue'"),
    (("cat", "--arg", "n:=[1"), "--arg n:= wants JSON after ':='"),
    (("cat", "--host-json", "/nonexistent.json"), "cannot read --host-json from /nonexistent.json"),
    (("cat", "-s", "/tmp", "--embedded"), "give --sharelib or --embedded, not both"),
])
def test_run_usage_errors(args: tuple[str, ...], error: str) -> None:
    done = cli("run", *args)
    assert done.returncode == 2 and error in done.stderr and done.stdout == ""


def test_run_of_a_file_not_named_wasm(tmp_path: Path) -> None:
    (tmp_path / "mod.bin").write_bytes(b"")
    done = cli("run", str(tmp_path / "mod.bin"))
    assert done.returncode == 2 and "a module file must be named <id>.wasm" in done.stderr


PROBE = """
import json, os, sys
from sysinspect_wasm_runtime.protocolmode import main
main([])
shown = sorted(m for m in sys.modules if m.split(".")[0] in {"hypothesis", "pywasm", "sysinspect_wasm_reference",
                                                            "argparse", "sysinspect_wasm_differential"})
sys.stderr.write("\\nMODULES " + json.dumps(shown) + "\\n")
sys.stderr.flush()
os._exit(0)
"""


def test_the_wasmtime_path_imports_no_pywasm_nor_hypothesis(sharelib: Path) -> None:
    pytest.importorskip("wasmtime", reason="no wasmtime wheel for this host")
    request = {"args": {"rt.mod": "text", "rt.backend": "wasmtime"}, "config": {"path.sharelib": str(sharelib)}}
    done = subprocess.run([sys.executable, "-c", PROBE], input=json.dumps(request).encode(), capture_output=True,
                          timeout=120, check=False)
    assert json.loads(done.stdout)["retcode"] == 0, done
    assert done.stderr.decode().rsplit("MODULES ", 1)[1].strip() == "[]"


def test_a_reader_that_stops_early_gets_no_traceback(sharelib: Path) -> None:
    # `wasm-runtime -l | head -1`: the pipe closes while the listing is still being written.
    reader = subprocess.Popen([str(RUNTIME), "-s", str(sharelib), "-l"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.close()  # before the runtime has even started writing
    errors = reader.stderr.read().decode()
    assert reader.wait(timeout=60) == 0
    assert "Traceback" not in errors and "BrokenPipe" not in errors


@pytest.mark.parametrize(
    ("command", "words"),
    [("diff", "--examples"), ("precompile", "--sharelib"), ("cache", "ACTION")],
)
def test_delegated_commands_are_reachable(command: str, words: str) -> None:
    listed = cli("--help")
    assert command in listed.stdout
    done = cli(command, "--help")
    assert done.returncode == 0 and f"wasm-runtime {command}" in done.stdout and words in done.stdout


def test_cache_list_through_the_console_script(sharelib: Path) -> None:
    pytest.importorskip("wasmtime", reason="no wasmtime wheel for this host")
    done = cli("cache", "list", "-s", str(sharelib))
    assert done.returncode == 0, done.stderr


GC_PROBE = """
import gc, json, os, sys
from sysinspect_wasm_production.backend import WasmtimeModule
from sysinspect_wasm_runtime.protocolmode import main

original = WasmtimeModule.run

def run(self, spec):
    sys.stderr.write("GC " + json.dumps([gc.isenabled(), gc.get_freeze_count()]) + "\\n")
    return original(self, spec)

WasmtimeModule.run = run
sys.argv = ["wasm-runtime"]
if os.environ.get("PROBE_AS") == "entry":
    main()  # as the console script calls it: ends the process
status = main([])
sys.stdout.flush()
os._exit(status)
"""


@pytest.mark.parametrize("called_as", ["entry", "function"])
def test_the_collector_is_off_while_a_call_starts_and_on_for_the_guest(sharelib: Path, called_as: str) -> None:
    # a minion's call (the console script) skips cyclic garbage collection while it imports and loads, then
    # freezes what it built and collects as usual during the guest's run; main(argv) leaves the collector alone
    pytest.importorskip("wasmtime", reason="no wasmtime wheel for this host")
    request = {"args": {"rt.mod": "text", "rt.backend": "wasmtime"}, "config": {"path.sharelib": str(sharelib)}}
    done = subprocess.run([sys.executable, "-c", GC_PROBE], input=json.dumps(request).encode(), capture_output=True,
                          timeout=120, check=False, env={**os.environ, "PROBE_AS": called_as})
    assert json.loads(done.stdout)["retcode"] == 0, done
    enabled, frozen = json.loads(done.stderr.decode().rsplit("GC ", 1)[1].splitlines()[0])
    assert enabled is True
    assert (frozen > 0) if called_as == "entry" else (frozen == 0), frozen
