"""sysinspect_wasm.paths spells paths as pathlib does: what a warm call shows an operator must not change."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sysinspect_wasm import paths

PATHS = st.text(alphabet="/.ab", max_size=12)
EDGES = ["", "/", "//", "///", "//a", "///a//b/", "a/", "./a", "a/./b", "a/../b", "/x/.wasm", "/x/a.b.wasm", "a.", ".a",
         "a..b", "/a/b/..", "..", "./", "a//."]


@pytest.mark.parametrize("path", EDGES)
def test_the_edges_are_spelled_as_pathlib_spells_them(path: str) -> None:
    pure = PurePosixPath(path)
    assert (paths.pure(path), paths.name(path), paths.stem(path)) == (str(pure), pure.name, pure.stem)


@given(PATHS, st.lists(PATHS, max_size=3))
def test_any_path_is_spelled_as_pathlib_spells_it(path: str, parts: list[str]) -> None:
    pure = PurePosixPath(path)
    assert (paths.pure(path), paths.name(path), paths.stem(path)) == (str(pure), pure.name, pure.stem)
    assert paths.join(path, *parts) == str(pure.joinpath(*parts))


def test_read_bytes_reads_a_whole_file_as_pathlib_does(tmp_path: Path) -> None:
    file = tmp_path / "m.wasm"
    file.write_bytes(b"\0asm\1\0\0\0" * 1000)
    assert paths.read_bytes(str(file)) == paths.read_bytes(file) == file.read_bytes()
    with pytest.raises(FileNotFoundError):
        paths.read_bytes(tmp_path / "missing.wasm")
