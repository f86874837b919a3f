"""The compiled-artifact cache on real wasmtime: cold and warm loads, staleness, integrity, trust, concurrency.

Whether a load compiled or loaded is proved by the cache's trace
(``SYSINSPECT_WASM_CACHE_TRACE``: one line per compilation and per load,
written only on those paths) and by the artifact file's inode and mtime, never
by timing.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import wat_to_wasm
from wasi_wat import command, wat_bytes, write_stdout

pytest.importorskip("wasmtime", reason="the production backend needs wasmtime")

from sysinspect_wasm_production import EngineSettings, WasmtimeBackend
from sysinspect_wasm_production import engine as engine_module
from sysinspect_wasm_production.backend import WasmtimeModule
from sysinspect_wasm_production.cache import FORMAT

from sysinspect_wasm import RunSpec
from sysinspect_wasm.store import HASHED, TRACE_ENV, layout
from sysinspect_wasm.store import key as store_key
from sysinspect_wasm.store import memo as store_memo
from sysinspect_wasm.store.fileformat import FOOTER, MAGIC
from sysinspect_wasm.store.layout import CACHE_DIR_ENV

RUNTIME = Path(sys.executable).with_name("wasm-runtime")


def printer(text: str) -> bytes:
    """A WASI command printing ``{"v": text}``."""
    payload = json.dumps({"v": text}).encode()
    return wat_to_wasm(command(write_stdout(1024, len(payload)), extra=f"(data (i32.const 1024) {wat_bytes(payload)})"))


def big_printer(text: str, functions: int = 4000) -> bytes:
    """A printer with thousands of extra functions: compiling it takes a noticeable while."""
    payload = json.dumps({"v": text}).encode()
    bulk = "".join(
        f"(func $f{i} (param i64) (result i64) (local.get 0) "
        + " ".join(f"(i64.const {i * 7 + j}) (i64.mul) (i64.const {j}) (i64.xor)" for j in range(40)) + ")"
        for i in range(functions))
    return wat_to_wasm(command(write_stdout(1024, len(payload)),
                               extra=f"(data (i32.const 1024) {wat_bytes(payload)}) {bulk}"))


class Trace:
    """The cache's trace file: which loads compiled and which loaded an artifact, and which read the module."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def events(self) -> list[str]:
        """Every event so far (``hashed``, ``compiled``, ``loaded``, ``waiting``), in order."""
        if not self.path.exists():
            return []
        return [line.split()[0] for line in self.path.read_text().splitlines()]

    def take_all(self) -> list[str]:
        """Every event since the last take."""
        events = self.events()
        self.path.unlink(missing_ok=True)
        return events

    def take(self) -> list[str]:
        """The loads' events since the last take (``compiled``, ``loaded``, ``waiting``): not ``hashed``."""
        return [event for event in self.take_all() if event != HASHED]


@pytest.fixture
def trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Trace:
    monkeypatch.setenv(TRACE_ENV, str(tmp_path / "trace"))
    monkeypatch.delenv(CACHE_DIR_ENV, raising=False)
    return Trace(tmp_path / "trace")


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    """A module folder holding ``hello.wasm``."""
    modules = tmp_path / "lib" / "runtime" / "wasm"
    modules.mkdir(parents=True)
    (modules / "hello.wasm").write_bytes(printer("one"))
    yield modules
    modules.chmod(0o755)  # tests make it read-only or open to everyone


def output(module: WasmtimeModule) -> dict[str, str]:
    result = module.run(RunSpec())
    assert result.ok, result
    value: dict[str, str] = json.loads(result.stdout)
    return value


def artifacts(folder: Path) -> list[Path]:
    """Every .cwasm file in ``folder`` but memos (remembered digests): artifacts, and any lock or temporary file."""
    return sorted(p for p in folder.iterdir()
                  if p.name.endswith(".cwasm") and layout.parse_memo_name(p.name) is None)


def the_artifact(folder: Path) -> Path:
    found = artifacts(folder)
    assert len(found) == 1, found
    return found[0]


def identity(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, st.st_size


# -- cold, warm, stale ----------------------------------------------------------------


def test_the_first_load_compiles_and_stores_the_next_loads_it(folder: Path, trace: Trace) -> None:
    cold = WasmtimeBackend().load(folder / "hello.wasm")
    assert output(cold) == {"v": "one"}
    assert (cold.cache_status, cold.warnings) == ("compiled", [])
    assert trace.take() == ["compiled"]
    artifact = the_artifact(folder)
    assert artifact == cold.artifact
    assert artifact.name.startswith("hello.") and artifact.name.endswith(".cwasm")
    assert stat.S_IMODE(artifact.stat().st_mode) & 0o022 == 0
    before = identity(artifact)

    warm = WasmtimeBackend().load(folder / "hello.wasm")
    assert output(warm) == {"v": "one"}
    assert (warm.cache_status, warm.warnings) == ("loaded", [])
    assert trace.take() == ["loaded"]
    assert identity(artifact) == before  # loaded, not rewritten


def test_a_warm_process_loads_and_does_not_compile(folder: Path, trace: Trace) -> None:
    # whole processes, as a minion runs them: the runtime in protocol mode
    request = json.dumps({"args": {"rt.mod": "hello"}, "config": {"path.sharelib": str(folder.parents[2])}}).encode()
    env = {**os.environ, TRACE_ENV: str(trace.path)}
    responses = []
    for _ in range(3):
        done = subprocess.run(runtime_command(), input=request, capture_output=True, env=env, timeout=120, check=True)
        responses.append(json.loads(done.stdout))
        if len(responses) == 1:
            first = identity(the_artifact(folder))
    assert [r["data"]["v"] for r in responses] == ["one"] * 3
    assert trace.take() == ["compiled", "loaded", "loaded"]
    assert identity(the_artifact(folder)) == first


def test_a_module_replaced_in_place_runs_its_new_code(folder: Path, trace: Trace) -> None:
    path = folder / "hello.wasm"
    assert output(WasmtimeBackend().load(path)) == {"v": "one"}
    old = the_artifact(folder)
    stamp = path.stat()
    new = printer("two")
    assert len(new) == stamp.st_size  # same size, and the same mtime below: only the content tells
    with path.open("r+b") as file:  # in place: same inode
        file.write(new)
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert path.stat().st_ino == stamp.st_ino

    again = WasmtimeBackend().load(path)
    assert output(again) == {"v": "two"}
    assert again.cache_status == "compiled"
    assert trace.take() == ["compiled", "compiled"]
    assert the_artifact(folder) != old  # the old one was superseded and removed
    assert output(WasmtimeBackend().load(path)) == {"v": "two"}
    assert trace.take() == ["loaded"]


def test_a_new_engine_configuration_gets_its_own_artifact(folder: Path, trace: Trace) -> None:
    path = folder / "hello.wasm"
    WasmtimeBackend().load(path)
    other = WasmtimeBackend(EngineSettings(cranelift_opt_level="none")).load(path)
    assert output(other) == {"v": "one"}
    assert other.cache_status == "compiled"
    assert len(artifacts(folder)) == 2  # both configurations keep theirs
    assert WasmtimeBackend().load(path).cache_status == "loaded"
    assert trace.take() == ["compiled", "compiled", "loaded"]


def test_an_engine_upgrade_recompiles_and_supersedes_the_old_artifact(
        folder: Path, trace: Trace, monkeypatch: pytest.MonkeyPatch) -> None:
    path = folder / "hello.wasm"
    WasmtimeBackend().load(path)
    old = the_artifact(folder)
    monkeypatch.setattr(engine_module, "wasmtime_version", lambda: "999.0.0")
    engine_module._fingerprint.cache_clear()
    try:
        upgraded = WasmtimeBackend().load(path)
        assert output(upgraded) == {"v": "one"} and upgraded.cache_status == "compiled"
        assert trace.take() == ["compiled", "compiled"]
        assert the_artifact(folder) != old  # the old engine's artifact can never load again: removed
    finally:
        engine_module._fingerprint.cache_clear()


# -- integrity -------------------------------------------------------------------------


def spoil_and_reload(folder: Path, trace: Trace, spoil: Callable[[Path], object]) -> WasmtimeModule:
    """Store an artifact, ``spoil`` it, load again: the call must compile, succeed and leave a good artifact."""
    path = folder / "hello.wasm"
    WasmtimeBackend().load(path)
    artifact = the_artifact(folder)
    spoil(artifact)
    before = identity(artifact)
    trace.take()
    module = WasmtimeBackend().load(path)
    assert output(module) == {"v": "one"}
    assert module.cache_status == "compiled"
    assert trace.take() == ["compiled"]
    rebuilt = the_artifact(folder)
    assert rebuilt == artifact and identity(rebuilt) != before
    assert WasmtimeBackend().load(path).cache_status == "loaded"  # and the rebuilt one is good
    return module


def damage_and_reload(folder: Path, trace: Trace, damage: bytes) -> WasmtimeModule:
    """:func:`spoil_and_reload` with the artifact's bytes replaced by ``damage``."""
    return spoil_and_reload(folder, trace, lambda artifact: artifact.write_bytes(damage))


def test_a_truncated_artifact_is_removed_and_rebuilt(folder: Path, trace: Trace) -> None:
    WasmtimeBackend().load(folder / "hello.wasm")
    whole = the_artifact(folder).read_bytes()
    module = damage_and_reload(folder, trace, whole[: len(whole) // 2])
    assert any("truncated" in w and "removed and compiled again" in w for w in module.warnings), module.warnings


def test_an_artifact_of_random_bytes_is_removed_and_rebuilt(folder: Path, trace: Trace) -> None:
    WasmtimeBackend().load(folder / "hello.wasm")
    size = the_artifact(folder).stat().st_size
    module = damage_and_reload(folder, trace, os.urandom(size))
    assert any("garbled" in w for w in module.warnings), module.warnings


def test_a_garbled_artifact_with_an_intact_footer_fails_its_checksum(folder: Path, trace: Trace) -> None:
    WasmtimeBackend().load(folder / "hello.wasm")
    data = bytearray(the_artifact(folder).read_bytes())
    data[100] ^= 0xFF  # inside wasmtime's ELF object
    module = damage_and_reload(folder, trace, bytes(data))
    assert any("checksum" in w for w in module.warnings), module.warnings


def test_an_artifact_of_other_settings_is_removed_and_rebuilt(folder: Path, trace: Trace, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(folder / "hello.wasm", elsewhere / "hello.wasm")
    WasmtimeBackend(EngineSettings(nan_canonicalization=True)).load(elsewhere / "hello.wasm")
    foreign = the_artifact(elsewhere).read_bytes()
    module = damage_and_reload(folder, trace, foreign)
    assert any("key differs" in w for w in module.warnings), module.warnings


def test_foreign_native_code_behind_a_valid_footer_is_refused_by_wasmtime(
        folder: Path, trace: Trace, tmp_path: Path) -> None:
    # the second line of defence: our footer and checksum all match, but the native code inside
    # comes from an engine with other settings; wasmtime's own check must catch it. (It does not
    # for every setting: native code built with NaN canonicalization loads into an engine without
    # it, which is why the cache key covers all settings.)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(folder / "hello.wasm", elsewhere / "hello.wasm")
    WasmtimeBackend(EngineSettings(relaxed_simd_deterministic=False)).load(elsewhere / "hello.wasm")
    WasmtimeBackend().load(folder / "hello.wasm")
    genuine = the_artifact(folder).read_bytes()
    foreign = the_artifact(elsewhere).read_bytes()
    _fmt, meta_len, payload_len, key, _crc, _magic = FOOTER.unpack(genuine[-FOOTER.size:])
    meta = genuine[payload_len: payload_len + meta_len]
    payload = foreign[: FOOTER.unpack(foreign[-FOOTER.size:])[2]]
    forged = payload + meta + FOOTER.pack(FORMAT, len(meta), len(payload), key, zlib.crc32(meta, zlib.crc32(payload)), MAGIC)
    module = damage_and_reload(folder, trace, forged)
    assert any("refused by wasmtime" in w for w in module.warnings), module.warnings


# -- trust -----------------------------------------------------------------------------


def test_a_group_writable_artifact_is_not_loaded_but_replaced(folder: Path, trace: Trace) -> None:
    module = spoil_and_reload(folder, trace, lambda artifact: artifact.chmod(0o664))
    assert any("refused to load" in w and "writable by other users" in w for w in module.warnings), module.warnings
    assert stat.S_IMODE(the_artifact(folder).stat().st_mode) & 0o022 == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file away")
def test_an_artifact_owned_by_another_user_is_not_loaded(folder: Path, trace: Trace) -> None:
    path = folder / "hello.wasm"
    WasmtimeBackend().load(path)
    os.chown(the_artifact(folder), 65534, 65534)
    trace.take()
    module = WasmtimeBackend().load(path)
    assert module.cache_status == "compiled" and trace.take() == ["compiled"]
    assert any("owned by uid 65534" in w for w in module.warnings), module.warnings
    assert the_artifact(folder).stat().st_uid == os.geteuid()


def test_a_symlink_in_place_of_the_artifact_is_not_followed(folder: Path, trace: Trace, tmp_path: Path) -> None:
    path = folder / "hello.wasm"
    WasmtimeBackend().load(path)
    artifact = the_artifact(folder)
    target = tmp_path / "target.cwasm"
    artifact.rename(target)
    artifact.symlink_to(target)
    trace.take()
    module = WasmtimeBackend().load(path)
    assert module.cache_status == "compiled" and trace.take() == ["compiled"]
    assert not artifact.is_symlink()
    assert any("refused to load" in w for w in module.warnings), module.warnings


def test_a_folder_others_can_write_is_not_used(folder: Path, trace: Trace) -> None:
    folder.chmod(0o777)
    module = WasmtimeBackend().load(folder / "hello.wasm")
    assert output(module) == {"v": "one"}
    assert module.cache_status == "uncached"
    assert any("writable by other users" in w and CACHE_DIR_ENV in w for w in module.warnings), module.warnings
    assert artifacts(folder) == []


# -- where artifacts go ----------------------------------------------------------------


def readonly_runner(folder: Path) -> list[str]:
    """A command prefix under which ``folder`` is read-only for the runtime, even for root (a read-only bind mount)."""
    if os.geteuid() != 0:
        return []
    probe = subprocess.run(["unshare", "-m", "sh", "-c", 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0"',
                            str(folder)], capture_output=True, check=False) if shutil.which("unshare") else None
    if probe is None or probe.returncode != 0:
        pytest.skip("running as root without a way to make a folder read-only (unshare -m)")
    return ["unshare", "-m", "sh", "-c", 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"',
            str(folder)]


LOAD_AND_RUN = """
import json, os, sys
from pathlib import Path
from sysinspect_wasm import RunSpec
from sysinspect_wasm_production import WasmtimeBackend
module = WasmtimeBackend().load(Path(sys.argv[1]))
result = module.run(RunSpec())
print(json.dumps({"stdout": result.stdout.decode(), "ok": result.ok, "status": module.cache_status,
                  "warnings": module.warnings}), flush=True)
os._exit(0)  # as the runtime does: wasmtime's worker threads may panic during interpreter shutdown
"""


def load_in_process(module: Path, prefix: list[str], env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run([*prefix, sys.executable, "-c", LOAD_AND_RUN, str(module)], capture_output=True,
                          env={**os.environ, **env}, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def test_a_read_only_module_folder_runs_uncached_with_a_warning(folder: Path, trace: Trace) -> None:
    prefix = readonly_runner(folder)
    if not prefix:
        folder.chmod(0o555)
    env = {TRACE_ENV: str(trace.path)}
    for _ in range(2):
        answer = load_in_process(folder / "hello.wasm", prefix, env)
        assert answer["ok"] and json.loads(str(answer["stdout"])) == {"v": "one"}
        assert answer["status"] == "uncached"
        warnings = answer["warnings"]
        assert isinstance(warnings, list) and len(warnings) == 1
        assert "cannot store the compiled module" in warnings[0] and CACHE_DIR_ENV in warnings[0]
    assert trace.take() == ["compiled", "compiled"]
    assert artifacts(folder) == []


def test_a_cache_folder_serves_a_read_only_module_folder(folder: Path, trace: Trace, tmp_path: Path) -> None:
    prefix = readonly_runner(folder)
    if not prefix:
        folder.chmod(0o555)
    cache_dir = tmp_path / "cache" / "sysinspect-wasm"
    env = {TRACE_ENV: str(trace.path), CACHE_DIR_ENV: str(cache_dir)}
    statuses = []
    for _ in range(2):
        answer = load_in_process(folder / "hello.wasm", prefix, env)
        assert answer["ok"] and answer["warnings"] == []
        statuses.append(answer["status"])
    assert statuses == ["compiled", "loaded"]
    assert trace.take() == ["compiled", "loaded"]
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    assert [p.name.split(".")[0] for p in artifacts(cache_dir)] == ["hello"]
    assert artifacts(folder) == []


def test_the_constructor_s_cache_dir_wins_over_the_variable(folder: Path, trace: Trace, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "from-env"))
    module = WasmtimeBackend(cache_dir=tmp_path / "given").load(folder / "hello.wasm")
    assert module.artifact is not None and module.artifact.parent == tmp_path / "given"
    assert not (tmp_path / "from-env").exists()


def test_a_relative_cache_dir_variable_is_ignored_with_a_warning(folder: Path, trace: Trace,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, "relative/cache")
    module = WasmtimeBackend().load(folder / "hello.wasm")
    assert module.cache_status == "compiled" and module.artifact is not None and module.artifact.parent == folder
    assert any("not an absolute path" in w for w in module.warnings), module.warnings


def test_an_unusable_cache_folder_means_uncached_with_a_warning(folder: Path, trace: Trace, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    module = WasmtimeBackend(cache_dir=blocker / "cache").load(folder / "hello.wasm")
    assert output(module) == {"v": "one"}
    assert module.cache_status == "uncached"
    assert any("cannot use the compile cache folder" in w for w in module.warnings), module.warnings


def test_bytes_and_a_disabled_cache_compile_in_memory(folder: Path, trace: Trace) -> None:
    from_bytes = WasmtimeBackend().load((folder / "hello.wasm").read_bytes(), name="hello")
    switched_off = WasmtimeBackend(cache=False).load(folder / "hello.wasm")
    for module in (from_bytes, switched_off):
        assert output(module) == {"v": "one"}
        assert (module.cache_status, module.warnings, module.artifact) == ("off", [], None)
    assert artifacts(folder) == []
    assert trace.take() == []  # the trace covers the cache's own compilations only


def test_a_loaded_program_is_the_compiled_one(folder: Path, trace: Trace) -> None:
    # guards, note and layout come back from the artifact: memory.grow past the ceiling still stops the guest
    grow = wat_to_wasm(command("(drop (memory.grow (i32.const 100)))"))
    (folder / "grow.wasm").write_bytes(grow)
    from sysinspect_wasm import Limits, TrapKind

    compiled = WasmtimeBackend().load(folder / "grow.wasm")
    loaded = WasmtimeBackend().load(folder / "grow.wasm")
    assert (compiled.cache_status, loaded.cache_status) == ("compiled", "loaded")
    for field in ("guards", "note", "layout"):
        assert getattr(loaded.program, field) == getattr(compiled.program, field), field
    assert loaded.program.guards
    result = loaded.run(RunSpec(limits=Limits(memory_bytes=2 * 65536)))
    assert result.trap is not None and result.trap.kind is TrapKind.MEMORY_LIMIT


def test_an_invalid_module_stores_nothing(folder: Path, trace: Trace) -> None:
    from sysinspect_wasm import ModuleLoadError

    (folder / "bad.wasm").write_bytes(b"\0asm\x01\0\0\0\x99")
    for _ in range(2):
        with pytest.raises(ModuleLoadError, match="bad"):
            WasmtimeBackend().load(folder / "bad.wasm")
    assert not [p for p in artifacts(folder) if p.name.startswith("bad")]
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []  # no lock or temporary file left


# -- concurrency -----------------------------------------------------------------------

# Each child imports everything, says it is ready, and waits for its request: all of them
# then meet the cold cache at the same moment. Children end with os._exit, as the runtime
# does: wasmtime's worker threads may panic during interpreter shutdown.
CHILD = """
import os, sys
import sysinspect_wasm_production, sysinspect_wasm.backends
from sysinspect_wasm_runtime.protocol import respond
print("ready", flush=True)
request = sys.stdin.buffer.read()
print(respond(request).to_json(), flush=True)
os._exit(0)
"""


def runtime_command() -> list[str]:
    return [str(RUNTIME)] if RUNTIME.exists() else [sys.executable, "-m", "sysinspect_wasm_runtime"]


@pytest.mark.slow
def test_sixteen_processes_on_a_cold_cache_compile_once(tmp_path: Path, trace: Trace) -> None:
    folder = tmp_path / "lib" / "runtime" / "wasm"
    folder.mkdir(parents=True)
    (folder / "big.wasm").write_bytes(big_printer("many"))
    request = json.dumps({"args": {"rt.mod": "big"}, "config": {"path.sharelib": str(tmp_path)}}).encode()
    env = {**os.environ, TRACE_ENV: str(trace.path)}
    logs = [tmp_path / f"stderr-{n}" for n in range(16)]
    children = [subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=log.open("wb"), env=env) for log in logs]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        for child in children:
            assert child.stdin is not None
            child.stdin.write(request)
            child.stdin.close()
        answers = []
        for child, log in zip(children, logs, strict=True):
            assert child.stdout is not None
            out = child.stdout.read()
            assert child.wait(timeout=300) == 0, log.read_text()
            answers.append(json.loads(out))
    finally:
        for child in children:
            child.kill()
            child.wait()
    assert [(a["retcode"], a["data"]["v"]) for a in answers] == [(0, "many")] * 16
    assert not any(a.get("warning") for a in answers)
    events = trace.take()
    assert events.count("compiled") == 1, events
    assert events.count("loaded") == 15, events
    assert "waiting" in events  # they did meet: some waited for the one compiling
    assert [p.name.split(".")[0] for p in artifacts(folder)] == ["big"]
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # locks and temporary files are gone


def test_a_process_killed_while_compiling_leaves_nothing_that_is_loaded(folder: Path, trace: Trace) -> None:
    # what a crash leaves behind (a held-then-abandoned lock file, a partial temporary file) is ignored
    from sysinspect_wasm.store.layout import LOCK_SUFFIX, TEMP_SUFFIX

    WasmtimeBackend().load(folder / "hello.wasm")
    stem = the_artifact(folder).name[: -len(".cwasm")]
    the_artifact(folder).unlink()
    (folder / f".{stem}{LOCK_SUFFIX}").write_bytes(b"")
    (folder / f".{stem}.0123456789ab{TEMP_SUFFIX}").write_bytes(b"\x7fELF partial")
    trace.take()
    module = WasmtimeBackend().load(folder / "hello.wasm")
    assert output(module) == {"v": "one"} and module.cache_status == "compiled"
    assert trace.take() == ["compiled"]
    assert not (folder / f".{stem}{LOCK_SUFFIX}").exists()


# -- the reference backend -----------------------------------------------------------


def test_the_reference_backend_runs_uncached_with_a_warning_when_the_cache_is_unwritable(folder: Path,
                                                                                        tmp_path: Path) -> None:
    pytest.importorskip("pywasm")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    request = json.dumps({"args": {"rt.mod": "hello", "rt.backend": "pywasm"},
                          "config": {"path.sharelib": str(folder.parents[2])}}).encode()
    folder.chmod(0o555)
    env = {**os.environ, CACHE_DIR_ENV: str(blocker / "cache"), TRACE_ENV: str(tmp_path / "trace")}
    done = subprocess.run(runtime_command(), input=request, capture_output=True, env=env, timeout=120, check=True)
    response = json.loads(done.stdout)
    assert (response["retcode"], response["data"]["v"]) == (0, "one")
    (warning,) = response["warning"]  # the reference backend's own module cache (tests/test_reference_cache.py)
    assert f"not using the cache folder {blocker / 'cache'}" in warning and "decoded in full" in warning
    assert artifacts(folder) == [] and not any(folder.glob("*.cwasm")) and not (tmp_path / "trace").exists()


def test_cache_keys_follow_content_and_engine() -> None:
    one, two = store_key.sha256_hex(b"one"), store_key.sha256_hex(b"two")
    keys = {store_key.cache_key(d, f) for d in (one, two) for f in ("engine-a", "engine-b")}
    assert len(keys) == 4
    assert layout.parse_name(layout.file_name("a.b", "f" * 64)) == ("a.b", "f" * 16)
    for name in ("cat.cwasm", "x.0123.cwasm", ".x.0123456789abcdef.lock.cwasm", "x.0123456789abcdef.wasm"):
        assert layout.parse_name(name) is None, name


def test_cache_warnings_reach_the_modresponse(folder: Path) -> None:
    sharelib = folder.parents[2]  # the fixture's folder is <sharelib>/lib/runtime/wasm
    request = {"args": {"rt.mod": "hello", "rt.backend": "wasmtime"}, "config": {"path.sharelib": str(sharelib)}}
    env = {**os.environ, CACHE_DIR_ENV: "relative/cache"}
    done = subprocess.run([str(RUNTIME)], input=json.dumps(request).encode(), capture_output=True, env=env,
                          timeout=120, check=False)
    response = json.loads(done.stdout)
    assert response["retcode"] == 0 and response["data"]["v"] == "one"
    assert any("not an absolute path" in w for w in response["warning"]), response


def test_a_loaded_program_answers_a_run_from_its_manifest(folder: Path, trace: Trace) -> None:
    # the initial memory and the _start signature come from the artifact's manifest; the layout is decoded when asked
    from sysinspect_wasm import Limits, TrapKind

    (folder / "big.wasm").write_bytes(wat_to_wasm('(module (memory 3) (func (export "_start")))'))
    (folder / "odd.wasm").write_bytes(wat_to_wasm('(module (func (export "_start") (param i32)))'))
    for module_id, limits, kind in (("big", Limits(memory_bytes=2 * 65536), TrapKind.MEMORY_LIMIT),
                                    ("odd", Limits(), TrapKind.LINK_ERROR)):
        compiled = WasmtimeBackend().load(folder / f"{module_id}.wasm")
        loaded = WasmtimeBackend().load(folder / f"{module_id}.wasm")
        assert (compiled.cache_status, loaded.cache_status) == ("compiled", "loaded")
        assert loaded.program.initial_pages == compiled.program.initial_pages
        assert loaded.program.start_signature() == compiled.program.start_signature()
        result = loaded.run(RunSpec(limits=limits))
        assert result.trap is not None and result.trap.kind is kind, result


def test_a_loaded_program_never_describes_other_content(folder: Path, trace: Trace) -> None:
    WasmtimeBackend().load(folder / "hello.wasm")
    loaded = WasmtimeBackend().load(folder / "hello.wasm")
    assert loaded.cache_status == "loaded"
    (folder / "hello.wasm").write_bytes(wat_to_wasm('(module (func (export "_start")) (func (export "other")))'))
    assert loaded.program.layout is None  # the file no longer holds the code that was loaded
    assert output(loaded) == {"v": "one"}


# A protocol call in a fresh process; prints the response and every module it imported.
WARM_PROBE = """
import json, sys
from sysinspect_wasm_runtime.protocol import respond
response = respond(sys.stdin.buffer.read())
print(json.dumps([response.as_dict(), sorted(sys.modules)]))
"""


# A minion's call in a fresh process, through protocol mode's own entry (the response goes to the real stdout);
# then every module it imported, on stderr.
ENTRY_PROBE = """
import os, sys
sys.path[0:0] = {paths!r}
from sysinspect_wasm_runtime.protocolmode import protocol_mode
protocol_mode()
os.write(2, ("\\nMODULES " + " ".join(sorted(sys.modules)) + "\\n").encode())
os._exit(0)  # as the runtime ends: wasmtime's worker threads may panic during interpreter shutdown
"""
BARE_PROBE = "import sys; print(' '.join(sorted(sys.modules)))"
"""Both probes run as the launcher runs the runtime (``-I -S``: no site, whose start-up imports re, and no
import of their own), so that what the warm call imports is all that the list is compared with."""


def probe_paths() -> list[str]:
    """The folders ``-S`` leaves off the path: the project's packages (as its editable install maps them) and the
    folder holding wasmtime-py."""
    root = Path(__file__).resolve().parent.parent
    site = Path(importlib.util.find_spec("wasmtime").origin).parent.parent  # type: ignore[arg-type, union-attr]
    return [str(root), str(root / "production"), str(root / "runtime"), str(site)]


WARM_MODULES: tuple[str, ...] = importlib.import_module("sysinspect_wasm_launcher.warmpath").WARM_MODULES
WARM_IMPORTS = Path(__file__).parent / "data" / "warm-call-imports.txt"
"""The allowlist: every module a warm call may import beyond what a bare interpreter (and the probe) holds."""

NEVER_WARM = {"dataclasses", "inspect", "ast", "tempfile", "threading", "subprocess", "traceback", "argparse",
              "typing", "re", "enum", "json", "pathlib", "contextlib", "functools", "collections", "importlib",
              "wasmtime", "ctypes", "struct",
              "sysinspect_wasm.wasmbinary", "sysinspect_wasm_production.instrument", "sysinspect_wasm_production.cachecli",
              "sysinspect_wasm_runtime.cli", "sysinspect_wasm_reference", "sysinspect_wasm.store.concurrency",
              "sysinspect_wasm.store.maintenance"}
"""Known to be heavy or developer-only: never on the list, whatever it is regenerated from."""


def allowed_warm_imports() -> set[str]:
    """The standard library's part (the data file) and this project's (the warm image's list, which ships)."""
    listed = {line.strip() for line in WARM_IMPORTS.read_text().splitlines() if line.strip() and not line.startswith("#")}
    return listed | set(WARM_MODULES)


def not_allowed(modules: set[str], allowed: set[str]) -> list[str]:
    """The names of ``modules`` that neither ``allowed`` nor one of its ``pkg.*`` entries covers."""
    prefixes = tuple(entry[:-1] for entry in allowed if entry.endswith(".*"))
    return sorted(m for m in modules if m not in allowed and not m.startswith(prefixes))


def test_a_warm_call_imports_only_what_the_allowlist_holds(folder: Path, trace: Trace) -> None:
    # every warm call pays for its imports: a new one must be added to tests/data/warm-call-imports.txt on purpose
    WasmtimeBackend().load(folder / "hello.wasm")
    request = json.dumps({"args": {"rt.mod": "hello"}, "config": {"path.sharelib": str(folder.parents[2])}})
    probe = ENTRY_PROBE.format(paths=probe_paths())
    done = subprocess.run([sys.executable, "-I", "-S", "-c", probe], input=request.encode(), capture_output=True,
                          timeout=120, check=True)
    assert json.loads(done.stdout)["data"]["v"] == "one" and trace.take() == ["compiled", "loaded"]
    modules = set(done.stderr.decode().rsplit("MODULES ", 1)[1].split("\n", 1)[0].split())
    bare = set(subprocess.run([sys.executable, "-I", "-S", "-c", BARE_PROBE], capture_output=True, timeout=60,
                              check=True, text=True).stdout.split())
    allowed = allowed_warm_imports()
    assert allowed.isdisjoint(NEVER_WARM), allowed & NEVER_WARM
    assert NEVER_WARM.isdisjoint(modules), NEVER_WARM & modules
    new = not_allowed(modules - bare, allowed)
    assert new == [], (f"a warm call now imports {new}: keep them off the protocol path (import them where they "
                       f"are used), or add them to {WARM_IMPORTS.name} (the standard library's) or to "
                       f"launcher/warmpath.py (this project's) if every warm call needs them")
    # the warm image's list holds what a warm call does import: a module nothing imports any more should leave it
    assert sorted(set(WARM_MODULES) - modules) == [], "remove these from warmpath.py: a warm call no longer imports them"
    assert not {m for m in allowed_warm_imports() - set(WARM_MODULES) if m.startswith("sysinspect_wasm")}


# -- remembered digests ----------------------------------------------------------------
#
# A warm call need not read and hash the module when a memo in the cache folder remembers its
# digest for the file as it is (device, inode, size, mtime, ctime). Memos are only written for
# files left alone for SETTLE_NS (3 s): the first test waits that long, for real; the others
# set SETTLE_NS to 0 to exercise the rules about which memo may be believed.

def wait_until_settled(path: Path) -> None:
    """Sleep until the file at ``path`` counts as left alone (see ``cache.settled``)."""
    import time

    st = path.stat()
    left = (max(st.st_mtime_ns, st.st_ctime_ns) + store_memo.SETTLE_NS - time.time_ns()) / 1e9
    if left > -0.05:
        time.sleep(left + 0.1)
    assert store_memo.settled(path.stat(), time.time_ns())


def memos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if layout.parse_memo_name(p.name) is not None)


@pytest.fixture
def settle_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remember digests of files however recently written (the rules of trust stay as they are)."""
    monkeypatch.setattr(store_memo, "SETTLE_NS", 0)


def test_a_settled_module_is_hashed_once_and_then_remembered(folder: Path, trace: Trace) -> None:
    path = folder / "hello.wasm"
    wait_until_settled(path)
    request = json.dumps({"args": {"rt.mod": "hello"}, "config": {"path.sharelib": str(folder.parents[2])}}).encode()
    env = {**os.environ, TRACE_ENV: str(trace.path)}

    def call() -> tuple[str, list[str]]:
        done = subprocess.run([sys.executable, "-c", WARM_PROBE], input=request, capture_output=True, env=env,
                              timeout=120, check=True)
        response, modules = json.loads(done.stdout)
        assert response["retcode"] == 0 and not response.get("warning"), response
        return str(response["data"]["v"]), modules

    assert call()[0] == "one"
    assert trace.take_all() == ["hashed", "compiled"]
    (memo,) = memos(folder)
    assert memo.name.startswith(".hello.") and stat.S_IMODE(memo.stat().st_mode) & 0o022 == 0
    assert json.loads(memo.read_text())["module"] == str(path)

    value, modules = call()
    assert value == "one" and trace.take_all() == ["loaded"]  # the module was not read
    assert {"_hashlib", "hashlib", "mmap"}.isdisjoint(modules), {"_hashlib", "hashlib", "mmap"} & set(modules)

    # rewritten in place, same size, mtime put back: the ctime, which no process can set, tells
    stamp = path.stat()
    new = printer("two")
    assert len(new) == stamp.st_size
    with path.open("r+b") as file:
        file.write(new)
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (stamp.st_ino, stamp.st_mtime_ns)
    assert call()[0] == "two"
    assert trace.take_all() == ["hashed", "compiled"]
    assert call()[0] == "two"
    assert trace.take_all() == ["hashed", "loaded"]  # freshly written: not remembered until it settles


def test_a_module_written_just_now_is_hashed_on_every_call(folder: Path, trace: Trace) -> None:
    for _ in range(2):
        assert output(WasmtimeBackend().load(folder / "hello.wasm")) == {"v": "one"}
    assert trace.take_all() == ["hashed", "compiled", "hashed", "loaded"]
    assert memos(folder) == []


def test_a_remembered_digest_serves_the_next_load(folder: Path, trace: Trace, settle_now: None) -> None:
    WasmtimeBackend().load(folder / "hello.wasm")
    assert trace.take_all() == ["hashed", "compiled"] and len(memos(folder)) == 1
    assert output(WasmtimeBackend().load(folder / "hello.wasm")) == {"v": "one"}
    assert trace.take_all() == ["loaded"]


def memo_spoilers(folder: Path) -> dict[str, Callable[[Path], None]]:
    def group_writable(memo: Path) -> None:
        memo.chmod(0o664)

    def garbled(memo: Path) -> None:
        memo.write_bytes(b"{not json")

    def other_module(memo: Path) -> None:
        record = json.loads(memo.read_text())
        memo.write_text(json.dumps({**record, "module": str(folder / "other.wasm")}))

    def other_identity(memo: Path) -> None:
        record = json.loads(memo.read_text())
        memo.write_text(json.dumps({**record, "identity": [0, 0, 0, 0, 0]}))

    def bad_digest(memo: Path) -> None:
        record = json.loads(memo.read_text())
        memo.write_text(json.dumps({**record, "key": "not hex"}))

    def symlink(memo: Path) -> None:
        target = memo.with_name("elsewhere.json")
        memo.rename(target)
        memo.symlink_to(target.name)

    def huge(memo: Path) -> None:
        memo.write_bytes(memo.read_bytes() + b" " * store_memo.MEMO_MAX_BYTES)

    return {f.__name__: f for f in (group_writable, garbled, other_module, other_identity, bad_digest, symlink, huge)}


@pytest.mark.parametrize("spoil", ["group_writable", "garbled", "other_module", "other_identity", "bad_digest",
                                   "symlink", "huge"])
def test_a_memo_that_cannot_be_believed_is_ignored_and_replaced(folder: Path, trace: Trace, settle_now: None,
                                                                spoil: str) -> None:
    WasmtimeBackend().load(folder / "hello.wasm")
    (memo,) = memos(folder)
    memo_spoilers(folder)[spoil](memo)
    trace.take_all()
    module = WasmtimeBackend().load(folder / "hello.wasm")
    assert output(module) == {"v": "one"} and (module.cache_status, module.warnings) == ("loaded", [])
    assert trace.take_all() == ["hashed", "loaded"]  # read and hashed again, then remembered anew
    assert not memo.is_symlink() and stat.S_IMODE(memo.stat().st_mode) & 0o022 == 0
    assert WasmtimeBackend().load(folder / "hello.wasm").cache_status == "loaded"
    assert trace.take_all() == ["loaded"]


def test_a_memo_for_another_engine_configuration_is_not_used(folder: Path, trace: Trace, settle_now: None) -> None:
    WasmtimeBackend().load(folder / "hello.wasm")
    other = WasmtimeBackend(EngineSettings(cranelift_opt_level="none")).load(folder / "hello.wasm")
    assert output(other) == {"v": "one"} and other.cache_status == "compiled"
    assert trace.take_all() == ["hashed", "compiled", "hashed", "compiled"]


def test_no_memo_is_written_for_a_module_that_changed_while_it_was_hashed(
        folder: Path, trace: Trace, settle_now: None, monkeypatch: pytest.MonkeyPatch) -> None:
    path = folder / "hello.wasm"
    hash_file = store_key.fd_digest

    def hash_while_written(fd: int) -> str:
        digest = hash_file(fd)
        with path.open("r+b") as file:  # as if someone wrote it meanwhile: the same bytes, a new ctime
            file.write(path.read_bytes())
        return digest

    monkeypatch.setattr(store_memo, "fd_digest", hash_while_written)
    WasmtimeBackend().load(path)
    assert memos(folder) == []


def test_memos_are_named_per_module_path(tmp_path: Path) -> None:
    one = layout.memo_name("hello", "/srv/a/lib/runtime/wasm/hello.wasm")
    two = layout.memo_name("hello", "/srv/b/lib/runtime/wasm/hello.wasm")
    assert one != two and one.startswith(".hello.") and one.endswith(".memo.cwasm")
    assert layout.parse_memo_name(one) == "hello" and layout.parse_name(one) is None
    for name in ("hello.memo.cwasm", ".hello.xyz.memo.cwasm", ".hello.0123abcd.lock.cwasm"):
        assert layout.parse_memo_name(name) is None, name
