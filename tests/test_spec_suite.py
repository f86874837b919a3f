"""The WebAssembly 2.0 spec test suite on both backends, through the executor interface.

The scripts (``tests/data/wasm-spec-testsuite/``) are converted once per
session into a temporary folder; each backend then runs all of them in two
worker processes, once, and every script is one test here, so that a failure
names its script and shows the failing assertions. The whole suite takes about
5 s on wasmtime and 35 s on pywasm on this project's 2-core machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sysinspect_wasm_differential import specsuite
from sysinspect_wasm_differential.specsuite import ScriptResult, Totals

from sysinspect_wasm.backends import PYWASM, WASMTIME
from sysinspect_wasm.result import Value
from sysinspect_wasm.traps import TrapKind

SUITE = Path(__file__).parent / "data" / "wasm-spec-testsuite"
SCRIPTS = [p.stem for p in sorted(SUITE.glob("*.wast"))]
BACKENDS = (WASMTIME, PYWASM)
WORKERS = 2
_REAL_WORKER = specsuite._worker


@pytest.fixture(scope="session")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Path]:
    """Every script converted by wasm-tools json-from-wast, and the spectest module."""
    return specsuite.prepare(specsuite.scripts(SUITE), tmp_path_factory.mktemp("spec-suite"))


_RESULTS: dict[str, dict[str, ScriptResult]] = {}


def results(backend_name: str, converted: tuple[list[Path], Path]) -> dict[str, ScriptResult]:
    """Each script's result on ``backend_name``, from one run of the whole suite in two workers."""
    if backend_name not in _RESULTS:
        pytest.importorskip("sysinspect_wasm_production" if backend_name == "wasmtime" else "sysinspect_wasm_reference")
        scripts, spectest = converted
        _RESULTS[backend_name] = {r.script: r for r in specsuite.run_suite(scripts, spectest, backend_name, WORKERS)}
    return _RESULTS[backend_name]


def test_the_suite_is_complete() -> None:
    assert len(SCRIPTS) == 148
    assert (SUITE / "LICENSE").is_file() and "a810159" in (SUITE / "README.md").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_script(backend_name: str, script: str, converted: tuple[list[Path], Path]) -> None:
    result = results(backend_name, converted)[script]
    assert result.failed == 0, "\n".join(result.failures)
    assert result.passed + result.not_applicable > 0  # a script of text-format assertions only runs none


@pytest.mark.slow
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_totals_meet_the_bar(backend_name: str, converted: tuple[list[Path], Path]) -> None:
    totals = Totals()
    for result in results(backend_name, converted).values():
        totals.add(result)
    line = specsuite.closing_line(backend_name, totals)
    assert totals.failed == 0, line
    assert totals.passed >= 50_000, line
    assert totals.skipped <= 1_000, line
    # every skip is an expected failure that names its finding, and each one listed did fail
    expected = specsuite.expected_failures(backend_name)
    assert sum(totals.skips.values()) == totals.skipped == len(expected)
    assert set(totals.skips) <= {"F10"}
    assert totals.not_applicable == 1091  # the text-format assert_malformed, which no binary interface can run


def test_command_line_prints_the_closing_line(tmp_path: Path) -> None:
    """The real command, as a subprocess, on two scripts and both backends."""
    done = subprocess.run(
        [sys.executable, "-m", "sysinspect_wasm_differential", "spec-suite", str(SUITE), "--only", "i32",
         "--only", "linking.wast", "--jobs", "2"],
        capture_output=True, text=True, check=False, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("[wasmtime 2/2]") for line in lines)
    closing = [line for line in lines if line.endswith(" skipped") and ": " in line and "passed," in line
               and not line.startswith("[")]
    assert [line.split(":")[0] for line in closing] == ["wasmtime", "pywasm"]
    for line in closing:
        assert line.split(": ")[1].endswith("0 failed, 0 skipped")


def test_command_line_refuses_a_folder_without_scripts(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "sysinspect_wasm_differential", "spec-suite", str(tmp_path)],
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 2
    assert "no .wast scripts" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_strict_expected_failure_that_passes_is_a_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    json_path = specsuite.convert(SUITE / "fac.wast", tmp_path)
    spectest_path = specsuite.write_spectest(tmp_path)
    monkeypatch.setitem(specsuite.KNOWN_ENGINE_FAILURES, "wasmtime", {"F0": {"fac": (102,)}})
    pytest.importorskip("sysinspect_wasm_production")
    result = specsuite.run_script(json_path, "wasmtime", spectest_path)
    assert result.failed == 1 and "expected to fail (F0)" in result.failures[0]


@pytest.mark.parametrize(("text", "kind"), [
    ("out of bounds memory access", TrapKind.OUT_OF_BOUNDS),
    ("uninitialized element 2", TrapKind.UNDEFINED_ELEMENT),
    ("call stack exhausted", TrapKind.STACK_OVERFLOW),
    ("integer divide by zero", TrapKind.DIVIDE_BY_ZERO),
    ("something else", None),
])
def test_trap_messages_map_to_our_kinds(text: str, kind: TrapKind | None) -> None:
    assert specsuite.trap_kind(text) is kind


def test_nan_patterns_follow_the_spec() -> None:
    f32 = {"type": "f32", "value": "nan:canonical"}
    assert specsuite.matches(f32, Value("f32", 0x7FC00000))
    assert specsuite.matches(f32, Value("f32", 0xFFC00000))  # either sign
    assert not specsuite.matches(f32, Value("f32", 0x7FC00001))  # a payload is not canonical
    arithmetic = {"type": "f64", "value": "nan:arithmetic"}
    assert specsuite.matches(arithmetic, Value("f64", 0x7FF8000000000001))
    assert not specsuite.matches(arithmetic, Value("f64", 0x7FF0000000000001))  # signalling
    assert not specsuite.matches({"type": "f32", "value": "0"}, Value("f32", 0x80000000))  # -0 is not +0
    lanes = {"type": "v128", "lane_type": "f32", "value": ["nan:canonical", "1065353216", "0", "0"]}
    assert specsuite.matches(lanes, Value("v128", (0x3F800000 << 32) | 0xFFC00000))
    assert not specsuite.matches(lanes, Value("v128", 0x3F800000 << 32))


def test_arguments_keep_their_bits() -> None:
    assert specsuite.argument({"type": "i32", "value": "4294967295"}) == Value("i32", 0xFFFFFFFF)
    assert specsuite.argument({"type": "v128", "lane_type": "i16", "value": ["1", "65535"] + ["0"] * 6}) == \
        Value("v128", 0xFFFF0001)
    assert specsuite.argument({"type": "externref", "value": "0"}) == Value("externref", 1)
    assert specsuite.argument({"type": "funcref", "value": "null"}) == Value("funcref", 0)


def _worker_that_dies_on_fac(job: tuple[str, str, str]) -> ScriptResult:
    """Test double of the runner's worker: the process dies (as when the kernel kills it) on ``fac``."""
    if Path(job[0]).stem == "fac":
        os._exit(137)
    return _REAL_WORKER(job)


def test_a_worker_that_dies_fails_its_script_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sysinspect_wasm_production")
    converted = [specsuite.convert(SUITE / f"{name}.wast", tmp_path) for name in ("fac", "nop", "i32")]
    spectest = specsuite.write_spectest(tmp_path)
    monkeypatch.setattr(specsuite, "_worker", _worker_that_dies_on_fac)
    found = {r.script: r for r in specsuite.run_suite(converted, spectest, "wasmtime", jobs=2)}
    assert set(found) == {"fac", "nop", "i32"}
    assert found["fac"].failed == 1 and "died" in found["fac"].failures[0]
    assert found["nop"].failed == 0 and found["nop"].passed > 0
    assert found["i32"].failed == 0 and found["i32"].passed > 0


def test_an_unavailable_backend_is_named_not_a_traceback() -> None:
    """As on a host without a wasmtime wheel (wasmtime made unimportable in the child)."""
    script = ("import sys; sys.modules['wasmtime'] = None\n"
              "from sysinspect_wasm_differential.specsuite import main\n"
              f"sys.exit(main([{str(SUITE)!r}, '--backend', 'wasmtime', '--only', 'nop']))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 3, done.stderr
    assert "wasmtime backend is unavailable" in done.stderr
    assert "Traceback" not in done.stderr


# -- (module definition $m ...) and (module instance $i $m): the WebAssembly 3.0 suite's script format ----------

DEFINITIONS = Path(__file__).parent / "data" / "wast" / "module-definition.wast"


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_module_definitions_and_instances(backend_name: str, tmp_path: Path) -> None:
    pytest.importorskip("sysinspect_wasm_production" if backend_name == "wasmtime" else "sysinspect_wasm_reference")
    json_path = specsuite.convert(DEFINITIONS, tmp_path)
    kinds = [c["type"] for c in json.loads(json_path.read_text())["commands"]]
    assert kinds.count("module_definition") == 4 and kinds.count("module_instance") == 8
    result = specsuite.run_script(json_path, backend_name, specsuite.write_spectest(tmp_path))
    assert result.failures == [] and result.failed == 0
    assert result.passed == len(kinds) - kinds.count("register")  # every definition, instance and assertion


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_module_instance_of_an_unknown_or_invalid_definition_fails(backend_name: str, tmp_path: Path) -> None:
    pytest.importorskip("sysinspect_wasm_production" if backend_name == "wasmtime" else "sysinspect_wasm_reference")
    script = tmp_path / "bad.wast"
    script.write_text('(module definition $ok (func (export "f")))\n'
                      "(module instance $i $nothing)\n"
                      '(module definition binary "\\00asm" "\\01\\00\\00\\00" "\\0a\\04\\01\\02\\00\\0b")\n'
                      "(module instance $j)\n"
                      '(module instance $k $ok)\n(invoke $k "f")\n')
    result = specsuite.run_script(specsuite.convert(script, tmp_path), backend_name, specsuite.write_spectest(tmp_path))
    assert result.passed == 3 and result.failed == 3, result.failures
    assert "no module definition named nothing" in result.failures[0]
    assert "module_definition: ModuleLoadError" in result.failures[1] and "not a valid WebAssembly module" in result.failures[1]
    assert "no module definition to instantiate" in result.failures[2]
