"""``wasm-runtime precompile`` and ``wasm-runtime cache list|prune|clear`` (``sysinspect_wasm_production.cachecli``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import wat_to_wasm
from wasi_wat import command, wat_bytes, write_stdout

pytest.importorskip("wasmtime", reason="the production backend needs wasmtime")

from sysinspect_wasm_production import WasmtimeBackend
from sysinspect_wasm_production.cachecli import main

from sysinspect_wasm.store import TRACE_ENV
from sysinspect_wasm.store.concurrency import try_lock
from sysinspect_wasm.store.layout import CACHE_DIR_ENV, LOCK_SUFFIX, TEMP_SUFFIX, parse_memo_name


def printer(text: str) -> bytes:
    payload = json.dumps({"v": text}).encode()
    return wat_to_wasm(command(write_stdout(1024, len(payload)), extra=f"(data (i32.const 1024) {wat_bytes(payload)})"))


@pytest.fixture
def sharelib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A sharelib with modules a and b, a file that is not a module, and someone else's .cwasm."""
    monkeypatch.delenv(CACHE_DIR_ENV, raising=False)
    monkeypatch.setenv(TRACE_ENV, str(tmp_path / "trace"))
    root = tmp_path / "sharelib"
    folder = root / "lib" / "runtime" / "wasm"
    folder.mkdir(parents=True)
    (folder / "a.wasm").write_bytes(printer("a"))
    (folder / "b.wasm").write_bytes(printer("b"))
    (folder / "notes.txt").write_text("not a module")
    (folder / "upstream.cwasm").write_bytes(b"\x7fELF someone else's")
    return root


def folder_of(sharelib: Path) -> Path:
    return sharelib / "lib" / "runtime" / "wasm"


def artifacts(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()
                  if p.name.endswith(".cwasm") and p.name != "upstream.cwasm" and not p.name.startswith("."))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_precompile_compiles_every_module_then_finds_them_up_to_date(
        sharelib: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out, _ = run(capsys, "precompile", "--sharelib", str(sharelib))
    assert status == 0, out
    lines = out.splitlines()
    assert lines[0] == f"precompiling 2 modules of {folder_of(sharelib)} (artifacts beside the modules)"
    assert lines[1].startswith("[1/2] a  compiled in ") and lines[1].endswith(".cwasm")
    assert lines[2].startswith("[2/2] b  compiled in ")
    assert lines[-1] == "done: 2 compiled, 0 up to date, 0 failed, 0 not cached"
    assert [name.split(".")[0] for name in artifacts(folder_of(sharelib))] == ["a", "b"]

    status, out, _ = run(capsys, "precompile", "-s", str(sharelib))
    assert status == 0
    assert "[1/2] a  up to date" in out and out.splitlines()[-1] == "done: 0 compiled, 2 up to date, 0 failed, 0 not cached"
    # what precompile stored is what the runtime's backend loads
    assert WasmtimeBackend().load(folder_of(sharelib) / "a.wasm").cache_status == "loaded"
    assert (tmp_path / "trace").read_text().split().count("compiled") == 2


def test_precompile_reports_a_broken_module_and_goes_on(sharelib: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder_of(sharelib) / "0broken.wasm").write_bytes(b"\0asm\x01\0\0\0\x99")
    status, out, _ = run(capsys, "precompile", "-s", str(sharelib), "--quiet")
    assert status == 1
    assert out.splitlines() == [
        f"precompiling 3 modules of {folder_of(sharelib)} (artifacts beside the modules)",
        out.splitlines()[1],
        "done: 2 compiled, 0 up to date, 1 failed, 0 not cached",
    ]
    assert out.splitlines()[1].startswith("[1/3] 0broken  FAILED: module '0broken' is not a valid WebAssembly module")


def test_precompile_into_a_cache_folder_and_when_nothing_can_be_stored(
        sharelib: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out, _ = run(capsys, "precompile", "-s", str(sharelib), "--cache-dir", str(tmp_path / "cache"))
    assert status == 0 and f"(artifacts in {tmp_path / 'cache'})" in out
    assert len(artifacts(tmp_path / "cache")) == 2 and artifacts(folder_of(sharelib)) == []

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    status, out, _ = run(capsys, "precompile", "-s", str(sharelib), "--cache-dir", str(blocker / "cache"))
    assert status == 1
    assert "a  NOT CACHED (see the warning)" in out and "warning: cannot use the compile cache folder" in out
    assert out.splitlines()[-1] == "done: 0 compiled, 0 up to date, 0 failed, 2 not cached"


def test_precompile_follows_the_environment_variable(sharelib: Path, capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "env-cache"))
    assert run(capsys, "precompile", "-s", str(sharelib))[0] == 0
    assert len(artifacts(tmp_path / "env-cache")) == 2
    status, out, _ = run(capsys, "cache", "list", "-s", str(sharelib))
    assert status == 0 and f"{tmp_path / 'env-cache'}:" in out


def test_cache_list_shows_module_size_key_and_state(sharelib: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = folder_of(sharelib)
    status, out, _ = run(capsys, "cache", "list", "-s", str(sharelib))
    assert status == 0 and "no artifacts" not in out  # the upstream file is listed as not managed
    assert "upstream.cwasm" in out and "not managed by this cache" in out

    run(capsys, "precompile", "-s", str(sharelib))
    (folder / "b.wasm").write_bytes(printer("B"))  # b's artifact is now stale
    status, out, _ = run(capsys, "cache", "list", "-s", str(sharelib))
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == f"{folder}:"
    assert lines[1].split() == ["ARTIFACT", "SIZE", "KEY", "STATE", "MODULE"]
    a_row = next(line for line in lines if line.strip().startswith("a."))
    b_row = next(line for line in lines if line.strip().startswith("b."))
    name, size, unit, key, *rest = a_row.split()
    assert float(size) > 0 and unit == "KiB"
    assert key == name.split(".")[1]  # the key prefix is the one in the name
    assert rest == ["current", "a.wasm"]
    assert "stale: the module changed since it was compiled" in b_row and b_row.endswith("b.wasm")
    assert lines[-1].startswith("  2 artifacts, ")

    status, out, _ = run(capsys, "cache", "list", "-s", str(sharelib), "--json")
    document = json.loads(out)
    assert [entry["folder"] for entry in document] == [str(folder)]
    states = {Path(a["artifact"]).name.split(".")[0]: a for a in document[0]["artifacts"]}
    assert states["a"]["state"] == "current" and len(states["a"]["key"]) == 64
    assert states["a"]["module"] == str(folder / "a.wasm") and states["a"]["size"] > 0
    assert states["a"]["engine"]["wasmtime"] and states["b"]["state"] == "stale"
    assert document[0]["not_managed"] == ["upstream.cwasm"]


def test_cache_prune_removes_all_but_current_artifacts(sharelib: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = folder_of(sharelib)
    (folder / "gone.wasm").write_bytes(printer("gone"))
    (folder / "c.wasm").write_bytes(printer("c"))
    run(capsys, "precompile", "-s", str(sharelib))
    names = {name.split(".")[0]: name for name in artifacts(folder)}
    (folder / "gone.wasm").unlink()  # orphan
    (folder / "b.wasm").write_bytes(printer("B"))  # stale
    (folder / names["c"]).write_bytes(b"garbage")  # damaged
    leftover = folder / f".a.0123456789abcdef.c0ffee{TEMP_SUFFIX}"
    leftover.write_bytes(b"partial")

    status, out, _ = run(capsys, "cache", "prune", "-s", str(sharelib), "--dry-run")
    assert status == 0 and "would remove 3 artifacts" in out
    assert len(artifacts(folder)) == 4 and leftover.exists()
    assert not list(folder.glob(f"*{LOCK_SUFFIX}")) and not list(folder.glob(f".*{LOCK_SUFFIX}"))

    status, out, _ = run(capsys, "cache", "prune", "-s", str(sharelib))
    assert status == 0
    assert f"removed {folder / names['gone']} " in out and "orphan: its module is gone" in out
    assert f"removed {folder / names['b']} " in out and "stale: the module changed" in out
    assert f"removed {folder / names['c']} " in out and "damaged: " in out
    assert f"removed {leftover} (left over from an interrupted compilation)" in out
    assert out.splitlines()[-1].startswith("removed 3 artifacts, ")
    assert artifacts(folder) == [names["a"]]
    assert (folder / "upstream.cwasm").exists() and not leftover.exists()


def test_cache_prune_leaves_a_compilation_in_progress_alone(sharelib: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = folder_of(sharelib)
    stem = "a.0123456789abcdef"
    temp = folder / f".{stem}.c0ffee{TEMP_SUFFIX}"
    temp.write_bytes(b"being written")
    dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        held = try_lock(dfd, f".{stem}{LOCK_SUFFIX}")
        assert held is not None
        for action in ("prune", "clear"):
            status, out, _ = run(capsys, "cache", action, "-s", str(sharelib))
            assert status == 0 and str(temp) not in out
        assert temp.exists() and (folder / f".{stem}{LOCK_SUFFIX}").exists()
        os.close(held)
    finally:
        os.close(dfd)


def test_cache_clear_removes_every_artifact(sharelib: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = folder_of(sharelib)
    run(capsys, "precompile", "-s", str(sharelib))
    run(capsys, "precompile", "-s", str(sharelib), "--cache-dir", str(tmp_path / "cache"))
    status, out, _ = run(capsys, "cache", "clear", "-s", str(sharelib), "-n")
    assert status == 0 and len(artifacts(folder)) == 2
    status, out, _ = run(capsys, "cache", "clear", "-s", str(sharelib), "--cache-dir", str(tmp_path / "cache"))
    assert status == 0
    assert out.splitlines()[-1].startswith("removed 4 artifacts, ")
    assert artifacts(folder) == [] and artifacts(tmp_path / "cache") == []
    assert sorted(p.name for p in folder.iterdir()) == ["a.wasm", "b.wasm", "notes.txt", "upstream.cwasm"]
    status, out, _ = run(capsys, "cache", "clear", "-s", str(sharelib))
    assert status == 0 and out.splitlines()[-1] == "removed 0 artifacts, 0 B"


def test_a_missing_module_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["precompile", "-s", str(tmp_path / "nowhere")], ["cache", "list", "-s", str(tmp_path / "nowhere")]):
        status, out, err = run(capsys, *argv)
        if argv[0] == "cache":  # there is nothing to list, which is not an error
            assert status == 0 and out.splitlines() == [f"{tmp_path / 'nowhere' / 'lib' / 'runtime' / 'wasm'}:",
                                                        "  no such folder"]
            continue
        assert status == 2
        assert err.startswith(f"wasm-runtime: cannot list the module folder {tmp_path / 'nowhere'}")
        assert "--sharelib" in err


@pytest.mark.parametrize("argv", [["precompile", "--help"], ["cache", "--help"], ["cache", "prune", "--help"]])
def test_help_teaches(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert CACHE_DIR_ENV in text and "examples:" in text and "--sharelib" in text
    if argv == ["cache", "--help"]:
        for word in ("list", "prune", "clear", "current", "stale", "orphan", "damaged", "untrusted"):
            assert word in text


def test_usage_mistakes_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in ([], ["cache"], ["cache", "shred"], ["precompile", "--bogus"]):
        with pytest.raises(SystemExit) as done:
            main(argv)
        assert done.value.code == 2
        assert "usage: wasm-runtime" in capsys.readouterr().err


def test_memos_are_listed_pruned_when_stale_and_cleared(sharelib: Path, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from sysinspect_wasm.store import memo

    monkeypatch.setattr(memo, "SETTLE_NS", 0)  # remember digests of the files just written
    folder = folder_of(sharelib)
    run(capsys, "precompile", "-s", str(sharelib))
    memos = sorted(p.name for p in folder.iterdir() if parse_memo_name(p.name))
    assert [parse_memo_name(name) for name in memos] == ["a", "b"]

    (folder / "b.wasm").write_bytes(printer("B"))  # b's memo no longer describes b.wasm
    status, out, _ = run(capsys, "cache", "list", "-s", str(sharelib))
    assert status == 0 and "  2 remembered module digests (.memo.cwasm), 1 of them stale" in out
    assert out.count("not managed by this cache") == 1  # upstream.cwasm only: memos are the cache's own
    status, out, _ = run(capsys, "cache", "list", "-s", str(sharelib), "--json")
    listed = {Path(m["memo"]).name: m["current"] for m in json.loads(out)[0]["memos"]}
    assert listed == {memos[0]: True, memos[1]: False}

    status, out, _ = run(capsys, "cache", "prune", "-s", str(sharelib))
    assert status == 0 and f"removed {folder / memos[1]} (a remembered module digest)" in out
    assert sorted(p.name for p in folder.iterdir() if parse_memo_name(p.name)) == [memos[0]]

    status, out, _ = run(capsys, "cache", "clear", "-s", str(sharelib))
    assert status == 0 and f"removed {folder / memos[0]} (a remembered module digest)" in out
    assert not [p for p in folder.iterdir() if parse_memo_name(p.name)]
