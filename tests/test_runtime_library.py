"""The module library: listing rules, and ids that must never reach a file outside the module folder."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sysinspect_wasm_runtime.protocol import handle
from sysinspect_wasm_runtime.request import request_from_object

from sysinspect_wasm import library

TRAVERSALS = ["../x", "../../x", "/etc/passwd", "a/b", "x\u0000y", "", ".", "..", "../wasm/ok", "ok/", "ok.wasm",
              "OK", "ok\n", "%2e%2e/x"]


@pytest.fixture
def sharelib(tmp_path: Path) -> Path:
    """A sharelib with one module ``ok``, decoys inside the folder and bait outside it."""
    folder = library.module_dir(tmp_path)
    folder.mkdir(parents=True)
    (folder / "ok.wasm").write_bytes(b"\0asm\x01\0\0\0")
    (folder / "b.wasm").write_bytes(b"\0asm\x01\0\0\0")
    (folder / "a").mkdir()
    (folder / "a" / "b.wasm").write_bytes(b"\0asm\x01\0\0\0")
    (folder / "ok.cwasm").write_bytes(b"\x7fELF")
    (folder / "readme.txt").write_text("")
    (folder / "sub.wasm").mkdir()
    (folder / "link.wasm").symlink_to(folder / "ok.wasm")
    (folder / ".wasm").write_bytes(b"")
    (folder.parent / "x.wasm").write_bytes(b"\0asm\x01\0\0\0")
    (tmp_path / "x.wasm").write_bytes(b"\0asm\x01\0\0\0")
    return tmp_path


def test_listing_holds_only_regular_wasm_files_sorted(sharelib: Path) -> None:
    folder = library.module_dir(sharelib)
    (folder / "Zed.wasm").write_bytes(b"")
    (folder / "a.b.wasm").write_bytes(b"")
    assert library.list_modules(folder) == ["Zed", "a.b", "b", "ok"]


def test_non_utf8_names_are_not_listed(sharelib: Path) -> None:
    folder = library.module_dir(sharelib)
    (Path(os.fsdecode(os.fsencode(folder) + b"/bad\xff.wasm"))).write_bytes(b"")
    assert library.list_modules(folder) == ["b", "ok"]


def test_find_module_returns_the_listed_file(sharelib: Path) -> None:
    folder = library.module_dir(sharelib)
    assert library.find_module(folder, "ok") == folder / "ok.wasm"
    assert library.find_module(folder, "ok.cwasm") is None


@pytest.mark.parametrize("module_id", TRAVERSALS)
def test_traversal_ids_are_not_found(sharelib: Path, module_id: str) -> None:
    assert library.find_module(library.module_dir(sharelib), module_id) is None


class _Recorder:
    """Records the paths that file-system audit events name, while switched on."""

    EVENTS = frozenset({"open", "os.scandir", "os.listdir", "os.mkdir", "os.remove", "os.rename", "os.rmdir",
                        "os.chmod", "os.symlink", "os.link", "os.truncate", "os.utime", "shutil.copyfile"})

    def __init__(self) -> None:
        self.on = False
        self.paths: list[str] = []

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if self.on and event in self.EVENTS and args and isinstance(args[0], (str, bytes, os.PathLike)):
            self.paths.append(os.fsdecode(args[0]))


_RECORDER = _Recorder()
sys.addaudithook(_RECORDER)


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    """The process's file-system audit recorder, switched on for one test."""
    _RECORDER.paths.clear()
    _RECORDER.on = True
    yield _RECORDER
    _RECORDER.on = False


@pytest.mark.parametrize("module_id", TRAVERSALS)
def test_traversal_ids_touch_nothing_outside_the_module_folder(sharelib: Path, recorder: _Recorder, module_id: str) -> None:
    request = request_from_object({"args": {"rt.mod": module_id}, "config": {"path.sharelib": str(sharelib)}})
    response = handle(request)
    assert (response.retcode, response.message) == (4, f'Module "{module_id}" was not found')
    folder = str(library.module_dir(sharelib))
    assert recorder.paths == [folder]
