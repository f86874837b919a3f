"""Small file trees: written into a fresh folder for each backend, and read back for comparison.

A tree is a mapping from a relative POSIX path to its entry: bytes for a
regular file, :data:`DIRECTORY` for a folder, or a :class:`Symlink`.
Parents are created as needed. After a run, :func:`snapshot` reads the
folder back into the same shape, so that the trees both backends left
behind can be compared entry by entry (names, kinds, contents, symlink
targets; never times, see :data:`~.normalise.FILE_TIMES`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Symlink:
    """A symbolic link and its target, exactly as written."""

    target: str


class _Directory:
    def __repr__(self) -> str:
        return "DIRECTORY"


DIRECTORY = _Directory()
"""The entry of a folder."""

Entry = bytes | Symlink | _Directory
FileTree = Mapping[str, Entry]


@dataclass(frozen=True)
class Other:
    """Anything :func:`snapshot` finds that is neither file, folder nor link (a fifo, a socket)."""

    mode: int


Snapshot = dict[str, "bytes | Symlink | _Directory | Other"]


def materialise(tree: FileTree, root: Path) -> None:
    """Create ``tree`` under the existing folder ``root``."""
    for relative in sorted(tree, key=lambda p: (p.count("/"), p)):
        entry = tree[relative]
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if entry is DIRECTORY:
            path.mkdir(exist_ok=True)
        elif isinstance(entry, Symlink):
            os.symlink(entry.target, path)
        elif isinstance(entry, bytes):
            path.write_bytes(entry)


def snapshot(root: Path) -> Snapshot:
    """Everything under ``root`` by relative path, without following symlinks."""
    found: Snapshot = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        base = Path(folder)
        for name in dirs + files:
            path = base / name
            relative = path.relative_to(root).as_posix()
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                found[relative] = Symlink(os.readlink(path))
            elif stat.S_ISDIR(mode):
                found[relative] = DIRECTORY
            elif stat.S_ISREG(mode):
                found[relative] = path.read_bytes()
            else:
                found[relative] = Other(stat.S_IFMT(mode))
    return found


def describe_entry(entry: object) -> str:
    """A short human description of a snapshot entry."""
    if entry is None:
        return "(absent)"
    if entry is DIRECTORY:
        return "directory"
    if isinstance(entry, Symlink):
        return f"symlink -> {entry.target}"
    if isinstance(entry, Other):
        return f"special file (mode 0o{entry.mode:o})"
    if isinstance(entry, bytes):
        return f"file, {len(entry)} bytes: {entry[:60]!r}{'...' if len(entry) > 60 else ''}"
    return repr(entry)
