"""The module corpus: files match the manifest, every module runs as expected on both backends.

Each module's cases (request, limits, expected stdout, exit code or trap kind,
log lines) live in ``corpus/manifest.json``; the same cases drive the
runtime's protocol tests. Go modules are 4 MB programs whose runtime start-up
alone takes several seconds on the pywasm interpreter (about 5 s to load plus
3 s to run on this 2-core machine), so on pywasm only :data:`PYWASM_GO_SUBSET`
runs; every Go case runs on wasmtime.
"""

from __future__ import annotations

import gc
import hashlib
import json
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sysinspect_wasm import (
    Backend,
    BackendUnavailable,
    HostContext,
    Limits,
    Module,
    ModuleLoadError,
    Preopen,
    RunSpec,
    TrapKind,
    get_backend,
)
from sysinspect_wasm.backends import PYWASM, WASMTIME
from sysinspect_wasm.packagekit import PackageKit

if TYPE_CHECKING:
    # mypy knows the package by its folder (corpus/); it is installed as sysinspect_wasm_corpus.
    import corpus
    from corpus import Case, ModuleEntry, build
else:
    import sysinspect_wasm_corpus as corpus
    from sysinspect_wasm_corpus import Case, ModuleEntry, build

CORPUS_DIR = Path(corpus.__file__).resolve().parent
BACKENDS = (WASMTIME, PYWASM)
LANGUAGES = {"go", "c", "zig", "rust", "wat"}

# Go cases that also run on pywasm: one Sysinspect-style module end to end
# (header on stdin, a file read through a symlink, JSON out) and the Go panic
# (a non-zero exit from the Go runtime), and the Go SDK's host helpers. Each costs about 8 s there.
PYWASM_GO_SUBSET = {("osrelease-go", "version"), ("fault-panic-go", "panic"), ("hostview-go", "slash-names")}

# A safety net for runs whose case sets no timeout: a hung backend fails, it does not hang CI.
DEFAULT_TIMEOUT = 120.0


# ------------------------------------------------------- manifest and files ---


def test_manifest_lists_enough_modules_in_every_language() -> None:
    modules = corpus.manifest()
    assert len(modules) >= 30
    assert {m.language for m in modules} == LANGUAGES
    assert [m.id for m in modules] == sorted(m.id for m in modules)
    assert len({m.id for m in modules}) == len(modules)
    for m in modules:
        assert m.cases, m.id
        assert m.purpose and m.exercises, m.id


def test_every_built_file_matches_its_manifest_hash() -> None:
    problems = []
    for m in corpus.manifest():
        path = corpus.module_path(m.id)
        if not path.is_file():
            problems.append(f"{m.id}: {path} is missing")
            continue
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != m.wasm_sha256:
            problems.append(f"{m.id}: sha256 differs from the manifest")
        if len(data) != m.size:
            problems.append(f"{m.id}: size {len(data)} differs from the manifest's {m.size}")
    assert not problems, "\n".join(problems)


def test_every_file_in_the_library_is_in_the_manifest() -> None:
    folder = corpus.library_root() / corpus.LIBRARY
    on_disk = {p.stem for p in folder.glob("*.wasm")}
    listed = {m.id for m in corpus.manifest()}
    assert on_disk == listed
    # compiled artifacts (.cwasm) a runtime may leave beside the modules are never part of the library
    assert not [p.name for p in folder.iterdir() if p.suffix not in (".wasm", ".cwasm")]


def test_manifest_matches_the_catalogue_and_the_sources() -> None:
    """The manifest was written from the current modules.toml and sources (no edit without a rebuild)."""
    catalogue = build.load_catalogue(CORPUS_DIR)
    entries = {m.id: m for m in corpus.manifest()}
    assert sorted(entries) == sorted(m["id"] for m in catalogue)
    raw = {e["id"]: e for e in corpus.manifest_document()["modules"]}
    stale = []
    for module in catalogue:
        entry = raw[module["id"]]
        if build.source_hash(module, CORPUS_DIR, entry["toolchain"]["command"]) != entry["source_sha256"]:
            stale.append(module["id"])
        if json.dumps(module["cases"], sort_keys=True) != json.dumps(entry["cases"], sort_keys=True):
            stale.append(module["id"] + " (cases)")
    assert not stale, "rebuild with `python corpus/build.py --only ...`: " + ", ".join(stale)


def test_library_api() -> None:
    root = corpus.library_root()
    assert (root / "lib" / "runtime" / "wasm" / "osrelease-go.wasm").is_file()
    assert corpus.module_path("osrelease-go") == root / "lib/runtime/wasm/osrelease-go.wasm"
    with pytest.raises(KeyError):
        corpus.module_path("../manifest")
    entry = corpus.module_by_id("osrelease-go")
    assert entry.language == "go" and entry.toolchain.name == "go"
    assert entry.path == corpus.module_path("osrelease-go")
    assert corpus.case_by_name("osrelease-go", "version").request == {"args": {"key": "VERSION"}}


def test_every_trap_kind_a_guest_can_cause_has_a_module() -> None:
    covered = {c.trap for m in corpus.manifest() for c in m.cases if c.trap}
    assert covered == {k.value for k in TrapKind}


def test_sysinspect_style_modules_in_go_and_two_other_languages() -> None:
    families: dict[str, set[str]] = {}
    for m in corpus.manifest():
        if m.family:
            families.setdefault(m.family, set()).add(m.language)
    assert set(families) == {"osrelease", "uname", "machineid", "headerinfo", "sections", "hostview"}
    for family, languages in families.items():
        assert "go" in languages and len(languages) >= 3, family


def test_header_for_follows_the_protocol() -> None:
    request = {"args": {"rt.mod": "x", "key": "V"}, "options": ["rt.list", "a"], "custom": 1, "ext": {"custom": 0, "e": 2}}
    header = corpus.header_for(request)
    assert list(header) == ["opts", "args", "config", "ext", "host"]
    assert header == {
        "opts": ["a"],
        "args": {"key": "V"},
        "config": {"path.sharelib": "/usr/share/sysinspect"},
        "ext": {"custom": 1, "e": 2},
        "host": {},
    }
    line = corpus.header_line({"args": {"k": "grüße"}})
    assert line == '{"args":{"k":"grüße"}}\n'.encode()


def test_catalogue_parses_as_toml() -> None:
    data = tomllib.loads((CORPUS_DIR / "modules.toml").read_text(encoding="utf-8"))
    assert data["format"] == 1


# ------------------------------------------------------------- running them ---


@dataclass
class Outcome:
    """One run, normalised: a load failure becomes a trap like any other."""

    exit_code: int | None
    trap: str | None
    stdout: bytes
    stderr: bytes
    logs: list[str]
    elapsed: float


@pytest.fixture(scope="module", autouse=True)
def _release_loaded_modules() -> Iterator[None]:
    """Drop the cached modules while the engines are still alive (not at interpreter exit)."""
    yield
    _loaded.cache_clear()
    gc.collect()


@cache
def _backend(name: str) -> Backend:
    return get_backend(name)


@cache
def _loaded(backend_name: str, module_id: str) -> Module | ModuleLoadError:
    """Each module is loaded once per backend and run for all its cases (loading Go on pywasm takes seconds)."""
    try:
        return _backend(backend_name).load(corpus.module_path(module_id), name=module_id)
    except ModuleLoadError as exc:
        return exc


def run_case(backend_name: str, entry: ModuleEntry, case: Case, tmp: Path) -> tuple[Outcome, bytes, Path | None]:
    """Run one case through the executor interface; return the outcome, the stdin given, and the root folder."""
    header = corpus.header_for(case.request)
    stdin = corpus.header_line(header)
    root: Path | None = None
    preopens: tuple[Preopen, ...] = ()
    if case.root == "host":
        preopens = (Preopen(Path("/"), "/", writable=False),)
    elif case.root in ("tree", "scratch"):
        root = tmp / "root"
        root.mkdir()
        corpus.write_tree(case, root)
        preopens = (Preopen(root, "/", writable=case.root == "scratch"),)
    defaults = Limits()
    limits = Limits(
        timeout=float(case.limits.get("timeout", DEFAULT_TIMEOUT)),
        memory_bytes=int(case.limits.get("memory_bytes", defaults.memory_bytes)),
        stdout_bytes=int(case.limits.get("stdout_bytes", defaults.stdout_bytes)),
        stderr_bytes=int(case.limits.get("stderr_bytes", defaults.stderr_bytes)),
    )
    packagekit = PackageKit.unreachable() if case.packagekit is False else PackageKit()
    host = HostContext(module_id=entry.id, header=header, allow_exec=case.allow_exec, packagekit=packagekit)
    loaded = _loaded(backend_name, entry.id)
    if isinstance(loaded, ModuleLoadError):
        return Outcome(None, loaded.trap.kind.value, b"", b"", [], 0.0), stdin, root
    result = loaded.run(RunSpec(stdin=stdin, preopens=preopens, limits=limits, host=host))
    trap = result.trap.kind.value if result.trap is not None else None
    outcome = Outcome(result.exit_code, trap, result.stdout, result.stderr, list(result.logs), result.elapsed)
    return outcome, stdin, root


def _params() -> list[object]:
    params: list[object] = []
    for entry in corpus.manifest():
        for case in entry.cases:
            for backend in BACKENDS:
                if backend == "pywasm" and entry.language == "go" and (entry.id, case.name) not in PYWASM_GO_SUBSET:
                    continue
                marks = [pytest.mark.slow] if backend == "pywasm" and entry.language == "go" else []
                params.append(pytest.param(backend, entry, case, id=f"{backend}-{entry.id}-{case.name}", marks=marks))
    return params


@pytest.mark.parametrize(("backend_name", "entry", "case"), _params())
def test_module_case(backend_name: str, entry: ModuleEntry, case: Case, tmp_path: Path) -> None:
    try:
        _backend(backend_name)
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    missing = case.missing_requirements()
    if missing:
        pytest.skip(f"this host lacks {', '.join(missing)}")
    outcome, stdin, root = run_case(backend_name, entry, case, tmp_path)
    problems = corpus.check_run(
        case,
        exit_code=outcome.exit_code,
        trap=outcome.trap,
        stdout=outcome.stdout,
        stderr=outcome.stderr,
        logs=outcome.logs,
        stdin=stdin,
        module_id=entry.id,
        root=root,
    )
    assert not problems, f"{entry.id}/{case.name} on {backend_name}:\n  " + "\n  ".join(problems)


# --------------------------------------------------------------- rebuilding ---


@pytest.mark.rebuild
@pytest.mark.slow
def test_rebuild_reproduces_every_module() -> None:
    """``build.py --check`` rebuilds everything from a copy with fresh caches; every hash must match."""
    done = subprocess.run(
        [sys.executable, str(CORPUS_DIR / "build.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


def test_check_response_reads_a_response_the_protocol_way() -> None:
    case = corpus.case_by_name("shape-list-zig", "list")
    good = {"retcode": 0, "data": {"changed": False, "data": [1, "two", 3.5, None, True, {"k": "v"}, []],
                                   "__sysinspect-module-logs": []}}
    assert corpus.check_response(case, good, module_id="shape-list-zig") == []
    assert corpus.check_response(case, {**good, "retcode": 5})
    trap = corpus.case_by_name("trap-oob-c", "oob")
    assert corpus.check_response(trap, {"retcode": 5, "message": "Failed to run module"}) == []
    assert corpus.check_response(trap, good)
    logs = corpus.case_by_name("osrelease-c", "missing-key")
    line = "[24/11/2026 23:30:00] - WARN: [osrelease-c] key NO_SUCH_KEY is not in /etc/os-release"
    data = {"changed": False, "NO_SUCH_KEY": None, "__sysinspect-module-logs": [line]}
    assert corpus.check_response(logs, {"retcode": 0, "data": data}, module_id="osrelease-c") == []
    data["__sysinspect-module-logs"] = []
    assert corpus.check_response(logs, {"retcode": 0, "data": data}, module_id="osrelease-c")
    hashed = corpus.case_by_name("compute-hash-rust", "hash-default")
    stdin = corpus.header_line(corpus.header_for(hashed.request))
    digest = {"bytes": len(stdin), "sha256": hashlib.sha256(stdin).hexdigest(), "fnv1a64": corpus.resolve({"$stdin_fnv1a64": True}, stdin)}
    assert corpus.check_response(hashed, {"retcode": 0, "data": {"changed": False, **digest}}) == []
