"""The reference backend's caches: the compiled interpreter and the module artifacts, and the store rules under them.

Real files, real processes, real corpus modules. What a cache did is read
from its own trace (``SYSINSPECT_WASM_CACHE_TRACE``), never from timing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import wat_to_wasm
from spoil import spoil as spoil_file
from sysinspect_wasm_reference import cache, loader
from sysinspect_wasm_reference.backend import PywasmBackend, PywasmModule

from sysinspect_wasm import store
from sysinspect_wasm.errors import ModuleLoadError
from sysinspect_wasm.spec import RunSpec
from sysinspect_wasm.store import layout
from sysinspect_wasm.store.fileformat import pack, unpack

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus" / "lib" / "runtime" / "wasm"
HEADER = b'{"opts":[],"args":{},"config":{},"ext":{},"host":{}}\n'


class Trace:
    """The cache's trace file: one ``<event> <file>`` per line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def take(self) -> list[str]:
        lines = self.path.read_text().splitlines() if self.path.exists() else []
        self.path.unlink(missing_ok=True)
        return [line.split(" pid=")[0] for line in lines]


@pytest.fixture
def trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Trace:
    monkeypatch.setenv(store.TRACE_ENV, str(tmp_path / "trace"))
    monkeypatch.delenv(layout.CACHE_DIR_ENV, raising=False)
    return Trace(tmp_path / "trace")


def copy_module(module_id: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{module_id}.wasm"
    shutil.copyfile(CORPUS / f"{module_id}.wasm", target)
    return target


def outcome(module: PywasmModule) -> dict[str, Any]:
    result = module.run(RunSpec(argv=("m",), stdin=HEADER))
    return {"exit": result.exit_code, "stdout": result.stdout, "stderr": result.stderr,
            "trap": (result.trap.kind, result.trap.message) if result.trap else None}


def structure(value: Any) -> Any:
    """A pywasm decoded value as plain data, to compare two decodes of the same bytes."""
    if isinstance(value, list):
        return [structure(item) for item in value]
    if hasattr(value, "__dict__"):
        return (type(value).__name__, {k: structure(v) for k, v in vars(value).items() if not k.startswith("_")})
    return value


# -- store: the rules under the caches ----------------------------------------


# -- the compiled interpreter -------------------------------------------------------

IMPORT = "import sysinspect_wasm_reference.backend as b, sysinspect_wasm_reference.loader as l; print(l.ENGINE_CODE.status)"


def import_engine(tmp_path: Path) -> tuple[str, list[str]]:
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "xdg"), **{store.TRACE_ENV: str(tmp_path / "trace")})
    env.pop(layout.CACHE_DIR_ENV, None)
    done = subprocess.run([sys.executable, "-c", IMPORT], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip(), Trace(tmp_path / "trace").take()


def engine_file(tmp_path: Path) -> Path:
    (found,) = (tmp_path / "xdg" / "sysinspect-wasm").glob(f"*{loader.ENGINE_KIND}.cwasm")
    return found


def test_the_rewritten_interpreter_is_compiled_once_then_loaded(tmp_path: Path) -> None:
    status, events = import_engine(tmp_path)
    assert status == "rewritten" and [e.split()[0] for e in events] == ["rewritten"]
    assert oct(engine_file(tmp_path).parent.stat().st_mode & 0o777) == "0o700"
    status, events = import_engine(tmp_path)
    assert status == "loaded" and [e.split()[0] for e in events] == ["loaded"]


def test_the_cached_interpreter_is_the_rewrite_of_these_sources() -> None:
    """What a warm process executes is the very code the checked rewrite makes (same bytecode, same constants)."""
    source_dir = loader._pywasm_dir()
    for name in loader.REWRITTEN:
        fresh = loader.rewrite(name, (source_dir / f"{name}.py").read_text(), str(source_dir / f"{name}.py"))
        assert loader.ENGINE_CODE is not None
        if loader.ENGINE_CODE.codes:
            assert loader.ENGINE_CODE.codes[name] == fresh, name


@pytest.mark.parametrize("spoil", ["garble", "group-writable", "symlink"])
def test_a_spoiled_interpreter_file_is_not_loaded_and_is_replaced(tmp_path: Path, spoil: str) -> None:
    import_engine(tmp_path)
    path = engine_file(tmp_path)
    spoil_file(path, spoil, tmp_path / "elsewhere.cwasm", at=100)
    status, events = import_engine(tmp_path)
    assert status == "rewritten" and [e.split()[0] for e in events] == ["rewritten"]
    assert path.is_file() and not path.is_symlink() and not path.stat().st_mode & 0o022
    status, _ = import_engine(tmp_path)
    assert status == "loaded"


# -- module artifacts -----------------------------------------------------------------


@pytest.mark.parametrize("module_id", ["compute-float-c", "trap-indirect-c", "trap-divzero-c", "compute-walk-rust",
                                       "shape-list-zig"])
def test_a_warm_load_runs_exactly_as_a_full_decode(tmp_path: Path, trace: Trace, module_id: str) -> None:
    path = copy_module(module_id, tmp_path / "lib")
    uncached = outcome(PywasmBackend(cache=False).load(path))
    cold = PywasmBackend().load(path)
    assert cold.cache_status == store.COMPILED and cold.artifact is not None and cold.artifact.is_file()
    assert trace.take() == [f"compiled {cold.artifact.name}"]
    assert outcome(cold) == uncached
    warm = PywasmBackend().load(path)
    assert warm.cache_status == store.LOADED and trace.take() == [f"loaded {cold.artifact.name}"]
    assert outcome(warm) == uncached
    assert outcome(warm) == uncached  # a second run of the same loaded module too


def test_lazily_decoded_bodies_are_what_the_full_decode_gives(tmp_path: Path) -> None:
    path = copy_module("compute-hash-rust", tmp_path)
    full = PywasmBackend(cache=False).load(path)._desc
    PywasmBackend().load(path)
    lazy = PywasmBackend().load(path)._desc
    assert all(isinstance(f, cache.LazyBody) for f in lazy.func)
    def body(function: Any) -> Any:  # read through the attributes: a lazy body decodes on this first read
        return structure([function.type, function.locals, function.expr])

    assert [body(f) for f in lazy.func] == [body(f) for f in full.func]
    assert all(type(f).__name__ == "FuncDesc" for f in full.func)
    for part in ("type", "tabl", "mems", "glob", "elem", "data", "star", "imps", "exps"):
        assert structure(getattr(lazy, part)) == structure(getattr(full, part)), part


def test_a_go_module_is_served_warm_through_the_runtime(tmp_path: Path) -> None:
    path = copy_module("sections-go", tmp_path / "lib")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "xdg"), **{store.TRACE_ENV: str(tmp_path / "trace")})
    env.pop(layout.CACHE_DIR_ENV, None)
    runtime = [sys.executable, "-m", "sysinspect_wasm_runtime", "run", str(path), "--backend", "pywasm"]
    answers = []
    for _ in range(2):
        done = subprocess.run(runtime, env=env, capture_output=True, check=True)
        answers.append(json.loads(done.stdout))
    assert answers[0] == answers[1] and answers[0]["retcode"] == 0, answers
    events = Trace(tmp_path / "trace").take()
    artifact = [e for e in events if e.endswith(f"{cache.KIND}.cwasm")]
    assert [e.split()[0] for e in artifact] == ["compiled", "loaded"], events


def test_the_configured_folder_holds_the_artifacts(tmp_path: Path, trace: Trace,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = copy_module("compute-float-c", tmp_path / "lib")
    monkeypatch.setenv(layout.CACHE_DIR_ENV, str(tmp_path / "cache"))
    module = PywasmBackend().load(path)
    assert module.artifact is not None and module.artifact.parent == tmp_path / "cache"
    assert oct((tmp_path / "cache").stat().st_mode & 0o777) == "0o700"
    assert [p.name for p in (tmp_path / "lib").iterdir()] == ["compute-float-c.wasm"]
    assert PywasmBackend().load(path).cache_status == store.LOADED


def test_a_changed_module_gets_a_new_artifact(tmp_path: Path, trace: Trace) -> None:
    path = tmp_path / "m.wasm"
    shutil.copyfile(CORPUS / "compute-float-c.wasm", path)
    first = PywasmBackend().load(path).artifact
    shutil.copyfile(CORPUS / "shape-text-c.wasm", path)
    second = PywasmBackend().load(path)
    assert second.cache_status == store.COMPILED and second.artifact != first
    assert first is not None and not first.exists()  # superseded: it could never load again
    assert outcome(second) == outcome(PywasmBackend(cache=False).load(path))


@pytest.mark.parametrize("spoil", ["garble", "truncate", "group-writable", "symlink", "foreign index"])
def test_a_spoiled_artifact_is_not_loaded_but_replaced(tmp_path: Path, trace: Trace, spoil: str) -> None:
    path = copy_module("compute-float-c", tmp_path / "lib")
    artifact = PywasmBackend().load(path).artifact
    assert artifact is not None
    if spoil != "foreign index":
        spoil_file(artifact, spoil, tmp_path / "elsewhere.cwasm", at=20, cut=5)
    else:  # a well-formed file under the right key whose index points elsewhere in the module
        payload, manifest, key = unpack(artifact.read_bytes(), None, cache.FORMAT)
        index = list(memoryview(payload).cast("Q"))
        index[2], index[3] = index[4], index[5]
        artifact.write_bytes(b"".join(pack(struct.pack(f"<{len(index)}Q", *index), manifest, key, cache.FORMAT)))
    trace.take()
    module = PywasmBackend().load(path)
    assert module.cache_status == store.COMPILED, module.warnings
    assert len(module.warnings) == 1 and str(artifact) in module.warnings[0]
    assert artifact.is_file() and not artifact.is_symlink() and not artifact.stat().st_mode & 0o022
    assert outcome(module) == outcome(PywasmBackend(cache=False).load(path))
    assert PywasmBackend().load(path).cache_status == store.LOADED


def test_an_unusable_folder_decodes_in_full_with_a_warning(tmp_path: Path, trace: Trace) -> None:
    path = copy_module("compute-float-c", tmp_path / "lib")
    (tmp_path / "lib").chmod(0o777)
    try:
        module = PywasmBackend().load(path)
    finally:
        (tmp_path / "lib").chmod(0o755)
    assert module.cache_status == store.UNCACHED and "writable by other users" in module.warnings[0]
    assert outcome(module) == outcome(PywasmBackend(cache=False).load(path))


def test_an_invalid_module_fails_alike_and_gets_no_artifact(tmp_path: Path, trace: Trace) -> None:
    path = tmp_path / "bad.wasm"
    path.write_bytes(wat_to_wasm("(module (func))")[:-3])
    messages = []
    for backend in (PywasmBackend(cache=False), PywasmBackend(), PywasmBackend()):
        with pytest.raises(ModuleLoadError) as raised:
            backend.load(path)
        messages.append(str(raised.value))
    assert len(set(messages)) == 1
    assert [p.name for p in tmp_path.iterdir() if p.name != "trace"] == ["bad.wasm"]


# -- precompile and cache list|prune|clear ----------------------------------------------


def runtime_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "xdg"))
    env.pop(layout.CACHE_DIR_ENV, None)
    return subprocess.run([sys.executable, "-m", "sysinspect_wasm_runtime", *args], env=env, capture_output=True,
                          text=True, check=False)


def pywasm_listing(tmp_path: Path, sharelib: Path) -> dict[str, str]:
    done = runtime_cli(tmp_path, "cache", "list", "-s", str(sharelib), "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    return {Path(a["artifact"]).name: a["state"] for folder in document if folder.get("backend") == "pywasm"
            for a in folder["artifacts"]}


def test_precompile_decodes_for_pywasm_and_the_cache_commands_manage_its_files(tmp_path: Path) -> None:
    sharelib = tmp_path / "sharelib"
    folder = sharelib / "lib" / "runtime" / "wasm"
    for module_id in ("compute-float-c", "shape-text-c"):
        copy_module(module_id, folder)
    (folder / "broken.wasm").write_bytes(b"\0asm\1\0\0\0\1")
    done = runtime_cli(tmp_path, "precompile", "-s", str(sharelib), "--backend", "pywasm")
    assert done.returncode == 1 and re.search(r"broken +FAILED: ", done.stdout) and "2 decoded, 0 up to date, 1 failed" in done.stdout
    done = runtime_cli(tmp_path, "precompile", "-s", str(sharelib), "--backend", "pywasm", "-q")
    assert "0 decoded, 2 up to date, 1 failed" in done.stdout
    listed = pywasm_listing(tmp_path, sharelib)
    modules = {name.split(".")[0]: state for name, state in listed.items() if name.endswith(f"{cache.KIND}.cwasm")}
    assert modules == {"compute-float-c": "current", "shape-text-c": "current"}
    assert "current" in [state for name, state in listed.items() if name.endswith(f"{loader.ENGINE_KIND}.cwasm")]

    shutil.copyfile(CORPUS / "compute-int-zig.wasm", folder / "shape-text-c.wasm")  # the module changes
    (folder / "compute-float-c.wasm").unlink()  # and one goes
    listed = pywasm_listing(tmp_path, sharelib)
    assert sorted(state for name, state in listed.items() if name.endswith(f"{cache.KIND}.cwasm")) == ["orphan", "stale"]
    done = runtime_cli(tmp_path, "cache", "prune", "-s", str(sharelib), "--backend", "pywasm")
    assert done.returncode == 0 and "removed 2 artifacts" in done.stdout, done.stdout
    assert not list(folder.glob(f"*{cache.KIND}.cwasm"))
    runtime_cli(tmp_path, "precompile", "-s", str(sharelib), "--backend", "pywasm")
    assert len(list(folder.glob(f"*{cache.KIND}.cwasm"))) == 1
    done = runtime_cli(tmp_path, "cache", "clear", "-s", str(sharelib), "--backend", "pywasm")
    assert done.returncode == 0 and not list(folder.glob("*.cwasm"))
    assert not list((tmp_path / "xdg" / "sysinspect-wasm").glob("*.cwasm"))


def test_garbage_collection_is_rarer_only_while_guests_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The backend raises the young-generation threshold for a run and restores it after the last overlapping one."""
    import gc
    import threading

    from sysinspect_wasm_reference import backend

    before = gc.get_threshold()
    seen: list[int] = []
    module = PywasmBackend(cache=False).load(wat_to_wasm('(module (func (export "_start")))'))
    original = backend.PywasmModule._start

    def spy(self: Any, *args: Any) -> Any:
        seen.append(gc.get_threshold()[0])
        return original(self, *args)

    monkeypatch.setattr(backend.PywasmModule, "_start", spy)  # a spy that records, then runs the real start
    threads = [threading.Thread(target=module.run, args=(RunSpec(),)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [max(before[0], backend.GC_ALLOCATIONS)] * 4
    assert gc.get_threshold() == before


def test_a_declared_maximum_of_zero_holds_whether_decoded_in_full_or_from_the_artifact(tmp_path: Path,
                                                                                        trace: Trace) -> None:
    """F14: ``(memory 0 0)`` and ``(table 0 0 funcref)`` cannot grow, on the cold load and on the warm one, whose
    sections the rewritten pywasm decodes again from the module's bytes."""
    from sysinspect_wasm.result import Value
    from sysinspect_wasm.spec import Limits

    path = tmp_path / "lib" / "bounded.wasm"
    path.parent.mkdir()
    path.write_bytes(wat_to_wasm("""
      (module (memory 0 0) (table 0 0 funcref)
        (func (export "grow-memory") (result i32) (memory.grow (i32.const 1)))
        (func (export "grow-table") (result i32) (table.grow (ref.null func) (i32.const 1))))"""))
    for status in (store.COMPILED, store.LOADED):
        module = PywasmBackend().load(path)
        assert module.cache_status == status, module.warnings
        instance = module.instantiate(Limits(timeout=30))
        assert instance.call("grow-memory", []) == [Value.i32(-1)]
        assert instance.call("grow-table", []) == [Value.i32(-1)]
