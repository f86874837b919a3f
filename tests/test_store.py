"""The backend-neutral cache rules (``sysinspect_wasm.store``): key, layout, format, trust, writes, maintenance.

Each backend's own tests (test_cache.py, test_cache_parts.py, test_reference_cache.py)
prove the rules through real loads; these pin the rules themselves, once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sysinspect_wasm.store import Damaged, TooLarge, Untrusted, concurrency, layout, maintenance, memo
from sysinspect_wasm.store.fileformat import FOOTER, MAX_FILE_BYTES, Formats, pack, read_footer, unpack, verify
from sysinspect_wasm.store.key import cache_key, module_id_of, sha256_hex
from sysinspect_wasm.store.trust import open_folder, read_trusted

ROOT = Path(__file__).resolve().parent.parent


def test_a_packed_file_unpacks_only_whole_and_under_its_key() -> None:
    key = cache_key("a" * 64, "engine")
    data = b"".join(pack(b"payload bytes", {"module": "m"}, key, 3))
    assert unpack(data, key, 3) == (b"payload bytes", {"module": "m"}, key)
    assert unpack(data, None, 3)[2] == key
    other = cache_key("b" * 64, "engine")
    damaged = {
        "truncated": data[:-1],
        "short": data[:10],
        "garbled": data[:3] + bytes([data[3] ^ 1]) + data[4:],
        "longer": b"x" + data,
    }
    for what, spoiled in damaged.items():
        with pytest.raises(Damaged):
            unpack(spoiled, key, 3)
        assert what
    with pytest.raises(Damaged, match="key differs"):
        unpack(data, other, 3)
    with pytest.raises(Damaged, match="format 3, not 4"):
        unpack(data, key, 4)


def test_a_file_checked_through_its_descriptor_agrees_with_one_read_whole(tmp_path: Path) -> None:
    key = cache_key("d" * 64, "engine")
    path = tmp_path / "x.cwasm"
    path.write_bytes(b"".join(pack(b"native code", {"module": "m"}, key, 2)))
    fd = os.open(path, os.O_RDONLY)
    try:
        size = path.stat().st_size
        assert verify(fd, size, bytes.fromhex(key), Formats(2, 3)) == (bytes.fromhex(key), {"module": "m"}, None)
        footer = read_footer(fd, size, Formats(2, 3))
        assert (footer.fmt, footer.parted, footer.meta_at) == (2, False, len(b"native code"))
        with pytest.raises(Damaged, match="format 2, not 4 or 5"):
            verify(fd, size, None, Formats(4, 5))
        with pytest.raises(Damaged, match="in parts, and its folder is unknown"):
            path.write_bytes(b"".join(pack(b"native code", {"parts": [11]}, key, 3))[len(b"native code"):])
            verify(fd, path.stat().st_size, None, Formats(2, 3))
    finally:
        os.close(fd)


def test_names_carry_the_key_and_the_kind() -> None:
    key = cache_key("c" * 64, "e")
    name = layout.file_name("os.release-go", key, ".pywasm")
    assert name == f"os.release-go.{key[:16]}.pywasm.cwasm"
    assert layout.parse_name(name, ".pywasm") == ("os.release-go", key[:16])
    assert layout.parse_name(name, ".other") is None
    assert layout.parse_name(name) is None  # a pywasm file is not a native artifact
    assert layout.parse_name(f"os.release-go.{key[:16]}.cwasm", ".pywasm") is None  # nor the other way round
    assert layout.parse_name(f".{name}", ".pywasm") is None  # a lock, temporary or memo file
    stem = layout.stem_of("os.release-go", key)
    assert layout.parse_part_name(layout.part_name(stem + ".cwasm", 2)) == stem + ".cwasm"
    assert layout.temp_stem(layout.temp_name(stem)) == stem and layout.temp_stem(name) is None
    assert module_id_of(Path("/x/os.release-go.wasm")) == "os.release-go" and module_id_of(Path(".wasm")) == ".wasm"


def test_nothing_larger_than_the_cap_is_written_without_parts(tmp_path: Path) -> None:
    dfd = open_folder(tmp_path, create=False)
    key = cache_key("e" * 64, "e")
    try:
        with pytest.raises(TooLarge, match="RLIMIT_FSIZE"):
            concurrency.write_artifact(dfd, "big.cwasm", bytes(MAX_FILE_BYTES), {}, key, Formats(1),
                                       cap=MAX_FILE_BYTES)
        fits = MAX_FILE_BYTES - FOOTER.size - len(b"{}")
        assert concurrency.write_artifact(dfd, "fits.cwasm", bytes(fits), {}, key, Formats(1),
                                          cap=MAX_FILE_BYTES) == 0
    finally:
        os.close(dfd)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fits.cwasm"]  # no temporary file left behind
    assert (tmp_path / "fits.cwasm").stat().st_size == MAX_FILE_BYTES


def test_a_payload_past_the_cap_goes_into_parts_that_verify_as_one(tmp_path: Path) -> None:
    dfd = open_folder(tmp_path, create=False)
    key = cache_key("f" * 64, "e")
    payload = os.urandom(2500)
    try:
        assert concurrency.write_artifact(dfd, "m.x.cwasm", payload, {"module": "m"}, key, Formats(2, 3),
                                          cap=1000) == 3
        fd = os.open(tmp_path / "m.x.cwasm", os.O_RDONLY)
        try:
            found, manifest, parts = verify(fd, os.fstat(fd).st_size, bytes.fromhex(key), Formats(2, 3), dfd,
                                            "m.x.cwasm")
        finally:
            os.close(fd)
        assert (found.hex(), manifest, bytes(parts or b"")) == (key, {"module": "m", "parts": [1000, 1000, 500]},
                                                                payload)
        # written again whole, its parts go
        assert concurrency.write_artifact(dfd, "m.x.cwasm", b"small", {}, key, Formats(2, 3)) == 0
    finally:
        os.close(dfd)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.x.cwasm"]


def test_only_trusted_files_in_trusted_folders_are_read(tmp_path: Path) -> None:
    (tmp_path / "mine.cwasm").write_bytes(b"data")
    (tmp_path / "shared.cwasm").write_bytes(b"data")
    (tmp_path / "shared.cwasm").chmod(0o664)
    (tmp_path / "link.cwasm").symlink_to(tmp_path / "mine.cwasm")
    dfd = open_folder(tmp_path, create=False)
    try:
        assert read_trusted(dfd, "mine.cwasm", 100) == b"data"
        assert read_trusted(dfd, "absent.cwasm", 100) is None
        with pytest.raises(Untrusted, match="writable by other users"):
            read_trusted(dfd, "shared.cwasm", 100)
        with pytest.raises(Untrusted, match="opened safely"):
            read_trusted(dfd, "link.cwasm", 100)
        with pytest.raises(Untrusted, match="larger"):
            read_trusted(dfd, "mine.cwasm", 3)
    finally:
        os.close(dfd)
    open_folder_path = tmp_path / "open"
    open_folder_path.mkdir()
    open_folder_path.chmod(0o777)
    with pytest.raises(Untrusted, match="writable by other users"):
        open_folder(open_folder_path, create=False)


def test_the_location_rules(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(layout.CACHE_DIR_ENV, "relative/dir")
    folder, warning = layout.configured_dir()
    assert folder is None and "not an absolute path" in warning
    monkeypatch.setenv(layout.CACHE_DIR_ENV, str(tmp_path))
    assert layout.configured_dir() == (tmp_path, "")
    assert layout.configured_dir(tmp_path / "x") == (tmp_path / "x", "")
    assert layout.engine_folder() == (tmp_path, "")
    assert layout.cache_folder(Path("/elsewhere/m.wasm"), None) == (tmp_path, True, "")
    monkeypatch.delenv(layout.CACHE_DIR_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert layout.user_dir() == tmp_path / "xdg" / "sysinspect-wasm"
    assert layout.cache_folder(tmp_path / "m.wasm", None) == (tmp_path, False, "")
    if os.geteuid() == 0:
        assert layout.engine_folder() == (tmp_path / "xdg" / "sysinspect-wasm", "")


NOBODY = 65534
UNPRIVILEGED = """
import json, os, sys
from pathlib import Path
from sysinspect_wasm.store import layout  # before the uid drops: this Python's files may be root's alone
os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)
engine, why = layout.engine_folder()
folder, create, warning = layout.cache_folder(Path(sys.argv[1]), None)
print(json.dumps([str(engine), why, str(folder), create, warning, layout.private_dir().stat().st_mode & 0o777]))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another uid needs root")
def test_an_unprivileged_user_keeps_every_cache_file_in_its_private_folder(tmp_path: Path) -> None:
    """As a minion that drops to uid 65534 with root's environment: neither HOME nor the module folder is used."""
    import json

    modules = tmp_path / "lib"
    modules.mkdir()
    tmp_path.chmod(0o755)
    private = Path(layout.PRIVATE_ROOT) / f"{layout.USER_DIR_NAME}-{NOBODY}"
    env = {**os.environ, "HOME": "/root", "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop(layout.CACHE_DIR_ENV, None)
    env.pop("XDG_CACHE_HOME", None)
    done = subprocess.run([sys.executable, "-c", UNPRIVILEGED, str(modules / "m.wasm")], env=env, cwd="/",
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [str(private), "", str(private), False, "", 0o700]


def test_a_memo_holds_only_while_its_module_file_is_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memo, "SETTLE_NS", 0)
    module = tmp_path / "m.wasm"
    module.write_bytes(b"\0asm\1\0\0\0")
    dfd = open_folder(tmp_path, create=False)
    try:
        digest, key = memo.content_key(module, dfd, {"engine": 1}, lambda: "fp")
        assert (digest, key) == (sha256_hex(module.read_bytes()), cache_key(digest, "fp"))
        (name,) = [p for p in tmp_path.iterdir() if layout.parse_memo_name(p.name) == "m"]
        assert memo.memo_holds(name)
        assert memo.content_key(module, dfd, {"engine": 2}, lambda: "fp2")[1] == cache_key(digest, "fp2")  # another engine
        module.write_bytes(b"\0asm\1\0\0\0\0")
        assert not memo.memo_holds(name)
    finally:
        os.close(dfd)


def _kind() -> maintenance.Kind:
    return maintenance.Kind(".t", Formats(1), key_for=lambda digest: cache_key(digest, "now"),
                            changed="changed", other_engine="other engine")


def _store(folder: Path, module: Path, fingerprint: str, content: bytes | None = None) -> Path:
    digest = sha256_hex(content if content is not None else module.read_bytes())
    key = cache_key(digest, fingerprint)
    name = layout.file_name(module.stem, key, ".t")
    (folder / name).write_bytes(b"".join(pack(b"payload", {"module": str(module), "module_sha256": digest}, key, 1)))
    return folder / name


def test_every_state_is_told_apart(tmp_path: Path) -> None:
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "a.wasm").write_bytes(b"a")
    (modules / "b.wasm").write_bytes(b"b")
    (modules / "c.wasm").write_bytes(b"c")
    current = _store(modules, modules / "a.wasm", "now")
    changed = _store(modules, modules / "b.wasm", "now", content=b"b before")
    other = _store(modules, modules / "c.wasm", "then")
    gone = _store(modules, modules / "gone.wasm", "now", content=b"x")
    damaged = modules / layout.file_name("d", "0" * 64, ".t")
    damaged.write_bytes(b"not a cache file")
    shared = _store(modules, modules / "a.wasm", "then")
    shared.chmod(0o666)
    foreign = modules / layout.file_name("e", "1" * 64, ".other")  # another kind: not listed
    foreign.write_bytes(b"x")
    found = {entry.info.path: entry for entry in maintenance.entries(modules, [_kind()], maintenance.Digests())}
    assert {path: (entry.state, entry.reason) for path, entry in found.items() if path != damaged} == {
        current: (maintenance.State.CURRENT, ""),
        changed: (maintenance.State.STALE, "changed"),
        other: (maintenance.State.STALE, "other engine"),
        gone: (maintenance.State.ORPHAN, "its module is gone"),
        shared: (maintenance.State.UNTRUSTED, "the file is writable by other users (mode -rw-rw-rw-)"),
    }
    assert found[damaged].state == maintenance.State.DAMAGED and "truncated" in found[damaged].reason
    assert found[current].module == str(modules / "a.wasm") and found[gone].module == str(modules / "gone.wasm")
    assert found[current].as_dict()["state"] == "current"


def test_the_remover_says_what_it_would_do_and_does_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x.cwasm").write_bytes(b"x" * 2048)
    (tmp_path / ".x.0.part.cwasm").write_bytes(b"p")
    dry = maintenance.Remover(dry_run=True)
    dry.artifact(tmp_path / "x.cwasm", 2048, "stale: why")
    assert dry.summary("label: ") == 0
    assert capsys.readouterr().out.splitlines() == [f"would remove {tmp_path / 'x.cwasm'} (2.0 KiB, stale: why)",
                                                    "label: would remove 1 artifact, 2.0 KiB"]
    assert (tmp_path / "x.cwasm").exists()
    real = maintenance.Remover(dry_run=False)
    real.artifact(tmp_path / "x.cwasm", 2048, "")
    real.artifact(tmp_path / "x.cwasm", 2048, "")  # gone already: not counted
    assert real.summary() == 0 and not list(tmp_path.iterdir())  # its part went with it
    assert capsys.readouterr().out.splitlines()[-1] == "removed 1 artifact, 2.0 KiB"
    assert [maintenance.human_size(n) for n in (0, 1023, 1024, 5 * 1024 * 1024)] == ["0 B", "1023 B", "1.0 KiB",
                                                                                      "5.0 MiB"]


@pytest.mark.parametrize("fields", [
    (1, 2, 3, bytes(range(32)), 0xFFFF_FFFF, b"sysiwasm"),
    (0xFFFF_FFFF, 0, 0xFFFF_FFFF_FFFF_FFFF, b"\0" * 32, 0, b"sysiwasm"),
    (7, 8, 9, b"short key", 10, b"mag"),  # NUL-padded, as struct pads
])
def test_the_footer_is_laid_out_as_struct_lays_it_out(fields: tuple[int, int, int, bytes, int, bytes]) -> None:
    # artifacts written before the footer did without the module struct must still be read, and the other way
    import struct

    layout = struct.Struct("<IIQ32sI8s")
    assert FOOTER.size == layout.size
    assert FOOTER.pack(*fields) == layout.pack(*fields)
    assert FOOTER.unpack(layout.pack(*fields)) == layout.unpack(layout.pack(*fields))


def test_a_footer_cut_short_is_damage() -> None:
    with pytest.raises(Damaged, match="truncated"):
        FOOTER.unpack(bytes(FOOTER.size - 1))
