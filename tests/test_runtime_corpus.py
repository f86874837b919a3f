"""The corpus of real modules (Go, C, Zig, Rust, WAT) through the installed ``wasm-runtime``.

Each manifest case becomes a request, answered by the runtime in a
subprocess (developer mode, see :func:`run_case`), and the response is
checked against the case with the corpus's own :func:`check_response`;
protocol mode runs the same modules to compare the two backends. Go modules are 4 MB programs that take about ten
seconds per call on the pywasm interpreter, so on pywasm only the Go
os-release module runs; every other module runs on both backends, and both
backends must give the very same response.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from protocol.harness import RUNTIME, call, ran

from sysinspect_wasm.packagekit import UNREACHABLE_ADDRESS

corpus: Any = pytest.importorskip("sysinspect_wasm_corpus", reason="the module corpus is not installed")

ROOT = Path(corpus.library_root())
ENTRIES = list(corpus.manifest())
KIB = 1024
MIB = 1024 * 1024
PYWASM_GO = {("osrelease-go", "version")}
DEFAULT_SHARELIB = "/usr/share/sysinspect"

# Where this runtime deliberately differs from upstream, which the corpus describes.
RUNTIME_DIFFERENCES: dict[tuple[str, str], dict[str, Any]] = {
    ("wasi-env-c", "env"): {"argc": 1},  # the guest gets argv[0], its module id (see --man)
}


def _backends(entry: Any, case: Any) -> list[str]:
    if entry.language != "go" or (entry.id, case.name) in PYWASM_GO:
        return ["wasmtime", "pywasm"]
    return ["wasmtime"]


CASES = [
    pytest.param(entry.id, case.name, backend, id=f"{entry.id}-{case.name}-{backend}",
                 marks=[pytest.mark.slow] if entry.language == "go" else [])
    for entry in ENTRIES for case in entry.cases for backend in _backends(entry, case)
]


def _skip_unless_usable(backend: str) -> None:
    if backend == "wasmtime":
        pytest.importorskip("wasmtime", reason="no wasmtime wheel for this host")


def case_request(module_id: str, case: Any, backend: str, root: Path) -> dict[str, Any]:
    """The request for one case on one backend; ``root`` is the folder for its tree or scratch space."""
    request: dict[str, Any] = json.loads(json.dumps(case.request))
    args_key = "arguments" if "arguments" in request else "args"
    opts_key = "options" if "options" in request else "opts"
    args = request.setdefault(args_key, {})
    opts = request.setdefault(opts_key, [])
    args["rt.mod"] = module_id
    args["rt.backend"] = backend
    if case.root == "none":
        pytest.skip("the runtime always shows the guest a root folder")
    if case.root in ("tree", "scratch"):
        corpus.write_tree(case, root)
        args["rt.rootfs"] = str(root)
    if case.root == "tree" or not case.allow_exec:
        opts.append("rt.sandbox")
    limits = dict(case.limits)
    if "timeout" in limits:
        request["timeout"] = math.ceil(limits["timeout"])
    if "memory_bytes" in limits:
        assert limits["memory_bytes"] % MIB == 0
        args["rt.memory-mb"] = int(limits["memory_bytes"]) // MIB
    caps = {int(limits[k]) for k in ("stdout_bytes", "stderr_bytes") if k in limits}
    if caps:
        if len(caps) > 1:
            pytest.skip("rt.output-kb caps stdout and stderr alike")
        (cap,) = caps
        assert cap % KIB == 0
        args["rt.output-kb"] = cap // KIB
    return request


def run_case(module_id: str, request: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    """The raw response of ``wasm-runtime run <module file> --request -``.

    Developer mode answers through protocol mode's code path, and lets the
    header keep the request's own ``config`` (the default sharelib when it has
    none), which the corpus's expectations, down to hashes of the guest's
    stdin, assume.
    """
    request = {**request, "config": {"path.sharelib": DEFAULT_SHARELIB, **(request.get("config") or {})}}
    done = subprocess.run([str(RUNTIME), "run", str(ROOT / "lib/runtime/wasm" / f"{module_id}.wasm"),
                           "--request", "-", "--compact"], input=json.dumps(request).encode(), capture_output=True,
                          timeout=300, check=False, env=None if env is None else {**os.environ, **env})
    response: dict[str, Any] = json.loads(done.stdout)
    assert done.returncode == response["retcode"], done.stderr.decode()
    return response


def expectations(module_id: str, case: Any) -> Any:
    """The case as this runtime must satisfy it: upstream's, but for the runtime's documented departures."""
    differences = RUNTIME_DIFFERENCES.get((module_id, case.name))
    if not differences:
        return case
    expect = json.loads(json.dumps(case.expect))
    expect["stdout_json"].update(differences)
    return dataclasses.replace(case, expect=expect)


@pytest.mark.parametrize(("module_id", "case_name", "backend"), CASES)
def test_corpus_case(module_id: str, case_name: str, backend: str, tmp_path: Path) -> None:
    _skip_unless_usable(backend)
    case = corpus.case_by_name(module_id, case_name)
    if case.missing_requirements():
        pytest.skip(f"this host lacks {', '.join(case.missing_requirements())}")
    # a case for a host without PackageKit gets a system bus that cannot be reached
    env = {"DBUS_SYSTEM_BUS_ADDRESS": UNREACHABLE_ADDRESS} if case.packagekit is False else None
    response = run_case(module_id, case_request(module_id, case, backend, tmp_path), env)
    assert corpus.check_response(expectations(module_id, case), response, module_id=module_id) == [], response
    for rel, text in case.expect.get("files", {}).items():
        assert (tmp_path / rel).read_text(encoding="utf-8") == text


SAME_ON_BOTH = [
    pytest.param(entry.id, case.name, id=f"{entry.id}-{case.name}")
    for entry in ENTRIES if entry.language != "go" and not entry.nondeterministic
    for case in entry.cases if case.root == "host"
]


@pytest.mark.parametrize(("module_id", "case_name"), SAME_ON_BOTH)
def test_both_backends_give_the_same_response(module_id: str, case_name: str, tmp_path: Path) -> None:
    _skip_unless_usable("wasmtime")
    case = corpus.case_by_name(module_id, case_name)
    if case.missing_requirements():
        pytest.skip(f"this host lacks {', '.join(case.missing_requirements())}")
    responses = []
    for backend in ("wasmtime", "pywasm"):
        request = case_request(module_id, case, backend, tmp_path)
        request["config"] = {**(request.get("config") or {}), "path.sharelib": str(ROOT)}
        responses.append(call(request, timeout=300))
    assert responses[0] == responses[1]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["wasmtime", "pywasm"])
def test_go_os_release_module_returns_the_version_line(backend: str) -> None:
    _skip_unless_usable(backend)
    version = corpus.resolve({"$os_release": "VERSION"})
    request = {"args": {"rt.mod": "osrelease-go", "key": "VERSION", "rt.backend": backend},
               "config": {"path.sharelib": str(ROOT)}}
    assert call(request, timeout=300) == ran({"VERSION": version, "hello": "Hello from osrelease-go"})


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed runtime's command line."""
    return subprocess.run([str(RUNTIME), *args], capture_output=True, text=True, timeout=300, check=False)


def test_embedded_library_is_listed() -> None:
    done = cli("--embedded", "-l")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0] == f"Available Wasm/WASI modules in {ROOT / 'lib/runtime/wasm'}:"
    assert lines[1:] == [f" {n}. {entry.id}" for n, entry in enumerate(ENTRIES, 1)]


def test_readme_demo_runs_an_embedded_module_by_id() -> None:
    if Path("/usr/share/sysinspect/lib/runtime/wasm/osrelease-c.wasm").exists():
        pytest.skip("this host's sharelib has a module of that id")
    done = cli("run", "osrelease-c", "--arg", "key=ID", "--opt", "nohello")
    assert done.returncode == 0, done.stderr
    response = json.loads(done.stdout)
    assert response["data"]["ID"] == corpus.resolve({"$os_release": "ID"})


def test_info_renders_an_embedded_modules_documentation() -> None:
    done = cli("--embedded", "-i", "osrelease-c")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Name:\n")
    for section in ("Description:", "Keyword arguments:", "Options:"):
        assert section in done.stdout
    assert "nohello" in done.stdout
