"""Artifacts past the process's RLIMIT_FSIZE: stored in parts, checked like artifacts, loaded from memory.

Real processes under a real ``RLIMIT_FSIZE``, real wasmtime; whether a load
compiled or loaded is proved by the cache's trace, never by timing. The
private folder of an unprivileged user is tested where such a user can run
the runtime at all: through the deployed launcher (tests/test_deploy_minion.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from minion import minion_spawn
from spoil import spoil as spoil_file
from test_cache import Trace, big_printer

pytest.importorskip("wasmtime", reason="the production backend needs wasmtime")

from sysinspect_wasm_production.cache import PARTED_FORMAT
from sysinspect_wasm_production.cachecli import kind

from sysinspect_wasm import store
from sysinspect_wasm.store import TRACE_ENV, fileformat, layout, maintenance

LIMIT = 512 * 1024
"""A limit smaller than the test module's artifact (about 1.3 MB): it is stored in three parts."""

LOAD = """
import json, os, sys
from pathlib import Path
from sysinspect_wasm import RunSpec
from sysinspect_wasm_production import WasmtimeBackend
module = WasmtimeBackend().load(Path(sys.argv[1]))
result = module.run(RunSpec())
print(json.dumps({"stdout": result.stdout.decode(), "ok": result.ok, "status": module.cache_status,
                  "warnings": module.warnings}), flush=True)
os._exit(0)
"""


@pytest.fixture(scope="module")
def module_bytes() -> bytes:
    return big_printer("parts", 1500)


@pytest.fixture
def folder(tmp_path: Path, module_bytes: bytes) -> Path:
    modules = tmp_path / "lib" / "runtime" / "wasm"
    modules.mkdir(parents=True)
    (modules / "big.wasm").write_bytes(module_bytes)
    return modules


def load(folder: Path, trace: Path, fsize: int | None = LIMIT, uid: int = 0) -> dict[str, object]:
    """Load and run ``big.wasm`` in a fresh process, under RLIMIT_FSIZE ``fsize`` (None: unlimited) as ``uid``."""
    preexec = minion_spawn(uid=uid, gid=uid, fsize=fsize) if fsize is not None else None
    done = subprocess.run([sys.executable, "-c", LOAD, str(folder / "big.wasm")], capture_output=True, timeout=120,
                          env={**os.environ, TRACE_ENV: str(trace)}, preexec_fn=preexec, check=False)
    assert done.returncode == 0, done.stderr.decode()
    answer: dict[str, object] = json.loads(done.stdout)
    assert answer["ok"] and json.loads(str(answer["stdout"])) == {"v": "parts"}, answer
    return answer


def events(trace: Path) -> list[str]:
    """The loads' events since the last look (test_cache's Trace)."""
    return Trace(trace).take()


def heads(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if layout.parse_name(p.name))


def parts(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if layout.parse_part_name(p.name))


def test_an_artifact_past_the_size_limit_is_stored_in_parts_and_loaded(folder: Path, tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    first = load(folder, trace)
    assert first["status"] == store.COMPILED and first["warnings"] == []
    assert events(trace) == [store.COMPILED]
    [head] = heads(folder)
    found = parts(folder)
    assert len(found) == 3 and all(p.stat().st_size <= LIMIT for p in found), found
    assert [layout.parse_part_name(p.name) for p in found] == [head.name] * 3
    info = maintenance.inspect(head, kind())
    assert info.problem == "" and info.manifest["parts"] == [p.stat().st_size for p in found]
    assert info.size == head.stat().st_size + sum(p.stat().st_size for p in found)
    fd = os.open(head, os.O_RDONLY)
    try:
        assert fileformat.FOOTER.unpack(os.pread(fd, fileformat.FOOTER.size, head.stat().st_size - fileformat.FOOTER.size))[0] == PARTED_FORMAT
    finally:
        os.close(fd)
    second = load(folder, trace)
    assert second["status"] == store.LOADED and events(trace) == [store.LOADED]
    assert load(folder, trace, fsize=None)["status"] == store.LOADED  # a process without the limit loads them too


def test_a_limit_that_would_need_too_many_parts_runs_uncached_with_a_warning(folder: Path, tmp_path: Path) -> None:
    answer = load(folder, tmp_path / "trace", fsize=16 * 1024)  # about 80 parts of 16 KiB
    assert answer["status"] == store.UNCACHED and heads(folder) == [] and parts(folder) == [], answer
    assert any("RLIMIT_FSIZE" in str(w) and f"more than {fileformat.MAX_PARTS} parts" in str(w)
               for w in answer["warnings"]), answer  # type: ignore[attr-defined]


def test_without_a_limit_the_artifact_is_one_file(folder: Path, tmp_path: Path) -> None:
    assert load(folder, tmp_path / "trace", fsize=None)["status"] == store.COMPILED
    assert len(heads(folder)) == 1 and parts(folder) == []


def spoil_a_part(folder: Path, tmp_path: Path, spoil: str) -> dict[str, object]:
    trace = tmp_path / "trace"
    load(folder, trace)
    middle = parts(folder)[1]
    spoil_file(middle, spoil, tmp_path / "elsewhere")
    events(trace)
    again = load(folder, trace)
    assert events(trace) == [store.COMPILED], again
    assert load(folder, trace)["status"] == store.LOADED and events(trace) == [store.LOADED]
    assert len(parts(folder)) == 3
    assert all(not p.is_symlink() and p.stat().st_mode & 0o022 == 0 for p in parts(folder))
    return again


@pytest.mark.parametrize(("spoil", "said"), [("garble", "checksum mismatch"), ("remove", "is missing"),
                                             ("truncate", "bytes, not")])
def test_a_damaged_part_is_removed_and_rebuilt(folder: Path, tmp_path: Path, spoil: str, said: str) -> None:
    again = spoil_a_part(folder, tmp_path, spoil)
    assert again["status"] == store.COMPILED
    assert any(said in str(w) and "compiled again" in str(w) for w in again["warnings"]), again  # type: ignore[attr-defined]


@pytest.mark.parametrize(("spoil", "said"), [("group-writable", "writable by other users"),
                                             ("symlink", "cannot be opened safely")])
def test_a_part_others_could_have_written_is_refused_and_replaced(folder: Path, tmp_path: Path, spoil: str,
                                                                  said: str) -> None:
    again = spoil_a_part(folder, tmp_path, spoil)
    assert any(said in str(w) and "refused" in str(w) for w in again["warnings"]), again  # type: ignore[attr-defined]


def cache_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).with_name("wasm-runtime")), "cache", *args], capture_output=True,
                          text=True, timeout=120, check=False)


def test_cache_list_clear_and_prune_know_the_parts(folder: Path, tmp_path: Path) -> None:
    load(folder, tmp_path / "trace")
    sharelib = str(folder.parents[2])
    listed = cache_cli("list", "-s", sharelib, "--json")
    assert listed.returncode == 0, listed.stderr
    # the native cache's document; the pywasm backend's folders follow it, each marked "backend": "pywasm"
    [document] = [d for d in json.loads(listed.stdout) if d.get("backend") != "pywasm"]
    assert [a["state"] for a in document["artifacts"]] == ["current"] and document["not_managed"] == [], document
    [head] = heads(folder)
    head.unlink()  # the parts are orphans now
    pruned = cache_cli("prune", "-s", sharelib)
    assert pruned.returncode == 0 and parts(folder) == [], pruned.stdout + pruned.stderr
    load(folder, tmp_path / "trace")
    cleared = cache_cli("clear", "-s", sharelib)
    assert cleared.returncode == 0 and heads(folder) == [] and parts(folder) == [], cleared.stdout + cleared.stderr
