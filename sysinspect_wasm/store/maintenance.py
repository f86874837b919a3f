"""Maintenance: what ``cache list|prune|clear`` needs to tell a cache file's state, and to remove it.

Off the warm path: a call that loads a module never imports this module
(``tests/data/warm-call-imports.txt``). Both backends' command lines
(``sysinspect_wasm_production.cachecli``, ``sysinspect_wasm_reference.cachecli``)
describe their files as :class:`Kind` values and use the functions here, so
a file's state means the same for either:

- :data:`State.CURRENT`: the file the runtime loads for its module as it is now;
- :data:`State.STALE`: the module changed, or another engine (or configuration)
  made it: it will never be loaded again;
- :data:`State.ORPHAN`: its module is gone, or cannot be read;
- :data:`State.DAMAGED`: truncated, garbled or unreadable: the runtime would
  remove and rebuild it;
- :data:`State.UNTRUSTED`: others could have written it: the runtime refuses it.
"""

from __future__ import annotations

import contextlib
import enum
import os
import stat
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..records import FrozenRecord
from ..usage import PROG
from . import Damaged, Untrusted
from .concurrency import release, remove_parts, try_lock
from .fileformat import Formats, verify
from .key import sha256_hex
from .layout import (
    LOCK_SUFFIX,
    SUFFIX,
    configured_dir,
    lock_name,
    parse_memo_name,
    parse_name,
    parse_part_name,
    private_dir,
    temp_stem,
)
from .memo import memo_holds
from .trust import unsafe_reason


class State(enum.StrEnum):
    """The state of a cache file (see the module's docstring); its value is the word ``cache list`` shows."""

    CURRENT = "current"
    STALE = "stale"
    ORPHAN = "orphan"
    DAMAGED = "damaged"
    UNTRUSTED = "untrusted"


class Kind(FrozenRecord):
    """One family of cache files, as a backend's command line describes it.

    ``suffix`` is the name's kind (see :func:`~.layout.file_name`),
    ``formats`` the formats it writes, ``check`` what else its manifest must
    hold (raising :class:`~sysinspect_wasm.store.Damaged`). A family of
    module files has ``key_for``, the key a content digest gives today; a
    file of no module has ``current_key`` instead (the key it would have
    today, "" when unknown) and ``what``, what it holds (shown as its
    module). ``changed`` and ``other_engine`` are the reasons a file is
    stale: its module changed, or another engine made it.
    """

    __match_args__ = ("suffix", "formats", "check", "key_for", "changed", "other_engine", "current_key", "what")
    suffix: str
    formats: Formats
    check: Callable[[dict[str, Any]], Any] | None
    key_for: Callable[[str], str] | None
    changed: str
    other_engine: str
    current_key: Callable[[], str] | None
    what: str

    def __init__(self, suffix: str, formats: Formats, check: Callable[[dict[str, Any]], Any] | None = None,
                 key_for: Callable[[str], str] | None = None, changed: str = "", other_engine: str = "",
                 current_key: Callable[[], str] | None = None, what: str = "") -> None:
        self.__dict__.update(suffix=suffix, formats=formats, check=check, key_for=key_for, changed=changed,
                             other_engine=other_engine, current_key=current_key, what=what)


class Inspected(FrozenRecord):
    """What a cache file says about itself: its size (parts included), key and manifest, and what is wrong.

    ``key`` and ``manifest`` are empty when it could not be read as a cache
    file; ``problem`` is empty for an intact one that may be loaded, and
    ``untrusted`` says the problem is who could have written it.
    """

    __match_args__ = ("path", "size", "key", "manifest", "problem", "untrusted")
    path: Path
    size: int
    key: str
    manifest: dict[str, Any]
    problem: str
    untrusted: bool

    def __init__(self, path: Path, size: int, key: str = "", manifest: dict[str, Any] | None = None,
                 problem: str = "", untrusted: bool = False) -> None:
        self.__dict__.update(path=path, size=size, key=key, manifest=manifest or {}, problem=problem,
                             untrusted=untrusted)


class Entry(FrozenRecord):
    """A cache file, its :class:`State`, why (empty when current) and its module's path (if known)."""

    __match_args__ = ("info", "state", "reason", "module")
    info: Inspected
    state: State
    reason: str
    module: str | None

    def __init__(self, info: Inspected, state: State, reason: str, module: str | None) -> None:
        self.__dict__.update(info=info, state=state, reason=reason, module=module)

    def as_dict(self) -> dict[str, Any]:
        """Everything known about the file, for ``--json``."""
        manifest = self.info.manifest
        return {
            "artifact": str(self.info.path),
            "size": self.info.size,
            "state": str(self.state),
            "reason": self.reason,
            "module": self.module,
            "module_id": manifest.get("module_id"),
            "key": self.info.key or None,
            "module_sha256": manifest.get("module_sha256"),
            "engine": manifest.get("engine"),
            "created": manifest.get("created"),
        }


def inspect(path: Path, kind: Kind) -> Inspected:
    """What the cache file at ``path`` says about itself, checksum (and parts) included; never raises.

    Read even when it is untrusted (without following a symlink), so that
    ``cache list`` can show what it claims to be.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        return Inspected(path, _size_of(path), problem=f"it cannot be opened safely ({exc.strerror or exc})",
                         untrusted=True)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return Inspected(path, 0, problem="it is not a regular file", untrusted=True)
        try:
            dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                key, manifest, payload = verify(fd, st.st_size, None, kind.formats, dfd, path.name)
            finally:
                os.close(dfd)
            if kind.check is not None:
                kind.check(manifest)
        except Untrusted as exc:
            return Inspected(path, st.st_size, problem=str(exc), untrusted=True)
        except Damaged as exc:
            return Inspected(path, st.st_size, problem=str(exc))
        except OSError as exc:
            return Inspected(path, st.st_size, problem=f"it cannot be read ({exc.strerror or exc})")
        size = st.st_size + (len(payload) if payload is not None else 0)
        try:
            unsafe = unsafe_reason(st, "the file") or unsafe_reason(os.stat(path.parent), "its folder")
        except OSError as exc:
            unsafe = f"its folder cannot be checked ({exc.strerror or exc})"
        return Inspected(path, size, key.hex(), manifest, unsafe, untrusted=bool(unsafe))
    finally:
        os.close(fd)


def _size_of(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:
        return 0


class Digests:
    """Content digests of module files, each file read once per command; ``None`` when it cannot be read."""

    def __init__(self) -> None:
        self._known: dict[Path, str | None] = {}

    def __call__(self, path: Path) -> str | None:
        if path not in self._known:
            try:
                self._known[path] = sha256_hex(path.read_bytes())
            except OSError:
                self._known[path] = None
        return self._known[path]


def recorded_module(manifest: dict[str, Any], folder: Path) -> Path | None:
    """The module a cache file in ``folder`` was made from: the file of its recorded name in ``folder`` (the
    sharelib may have moved since), else the recorded path; ``None`` when the manifest names none."""
    recorded = manifest.get("module")
    if not isinstance(recorded, str):
        return None
    beside = folder / Path(recorded).name
    return beside if beside.is_file() else Path(recorded)


def classify(info: Inspected, prefix: str, folder: Path, kind: Kind, digest: Callable[[Path], str | None]) -> Entry:
    """The :class:`Entry` of the inspected file ``info`` of ``kind``, whose name carries key prefix ``prefix``."""
    if not info.manifest:
        return Entry(info, State.UNTRUSTED if info.untrusted else State.DAMAGED, info.problem, None)
    module = recorded_module(info.manifest, folder) if kind.key_for is not None else None
    shown = str(module) if module is not None else (kind.what or None)
    if info.problem:
        return Entry(info, State.UNTRUSTED if info.untrusted else State.DAMAGED, info.problem, shown)
    if not info.key.startswith(prefix):
        return Entry(info, State.DAMAGED, "its name does not match its key", shown)
    if kind.key_for is None:
        current = kind.current_key() if kind.current_key is not None else ""
        if current and info.key == current:
            return Entry(info, State.CURRENT, "", shown)
        return Entry(info, State.STALE, kind.other_engine, shown)
    if module is None or not module.is_file():
        return Entry(info, State.ORPHAN, "its module is gone", shown)
    found = digest(module)
    if found is None:
        return Entry(info, State.ORPHAN, "its module cannot be read", shown)
    if found != info.manifest.get("module_sha256"):
        return Entry(info, State.STALE, kind.changed, shown)
    if info.key != kind.key_for(found):
        return Entry(info, State.STALE, kind.other_engine, shown)
    return Entry(info, State.CURRENT, "", shown)


def names_in(folder: Path) -> list[str]:
    """The sorted names in ``folder``; none when it does not exist. Raises ``OSError`` when it cannot be listed."""
    try:
        return sorted(entry.name for entry in os.scandir(folder))
    except FileNotFoundError:
        return []


def entries(folder: Path, kinds: list[Kind], digest: Callable[[Path], str | None]) -> Iterator[Entry]:
    """Every file in ``folder`` named like a cache file of one of ``kinds``, with its state."""
    for name in names_in(folder):
        for kind in kinds:
            parsed = parse_name(name, kind.suffix)
            if parsed is not None:
                yield classify(inspect(folder / name, kind), parsed[1], folder, kind, digest)
                break


def configured_folder(explicit: str | None) -> Path | None:
    """The configured cache folder (``--cache-dir``, else the environment's), warning on stderr about a setting
    that was ignored."""
    folder, warning = configured_dir(explicit)
    if warning:
        sys.stderr.write(f"{PROG}: warning: {warning}\n")
    return folder


def module_folders(module_folder: Path, explicit: str | None) -> list[Path]:
    """Where a sharelib's module cache files may be: its module folder, the configured cache folder, and, when
    none is configured, the private folder of a user other than root (see :func:`private_folder_if_any`)."""
    found = [module_folder]
    configured = configured_folder(explicit)
    for folder in (configured, private_folder_if_any() if configured is None else None):
        if folder is not None and folder not in found:
            found.append(folder)
    return found


def private_folder_if_any() -> Path | None:
    """The private folder of a user other than root (:func:`~.layout.private_dir`) when it exists, else ``None``:
    the runtime keeps such a user's files there when it cannot write the module folder."""
    private = private_dir()
    return private if os.geteuid() != 0 and private.is_dir() else None


# -- showing -------------------------------------------------------------------


def human_size(n: int) -> str:
    """``n`` bytes for people: ``512 B``, ``3.2 KiB``, ``17.0 MiB``."""
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1024 * 1024):.1f} MiB"


def print_table(rows: list[tuple[str, str, str, str, str]]) -> None:
    """``rows`` of (file, size, key, state, module) under a header, the first four columns aligned."""
    header = ("ARTIFACT", "SIZE", "KEY", "STATE", "MODULE")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        print("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


# -- removing ------------------------------------------------------------------


class Remover:
    """Removes files for ``cache prune|clear`` (or, with ``dry_run``, says it would), printing a line for each."""

    def __init__(self, dry_run: bool) -> None:
        self.dry_run = dry_run
        self.verb = "would remove" if dry_run else "removed"
        self.failures = 0
        self.removed = 0
        self.freed = 0

    def unlink(self, path: Path) -> bool:
        """Remove ``path`` (unless a dry run): False when it was not there or could not be removed."""
        if self.dry_run:
            return True
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            self.failures += 1
            print(f"cannot remove {path}: {exc.strerror or exc}", file=sys.stderr)
            return False
        return True

    def artifact(self, path: Path, size: int, reason: str) -> None:
        """Remove the cache file ``path`` of ``size`` bytes (its parts with it), counting it."""
        if self.unlink(path):
            self.removed += 1
            self.freed += size
            print(f"{self.verb} {path} ({human_size(size)}{', ' + reason if reason else ''})")
            if not self.dry_run:
                with contextlib.suppress(OSError):
                    dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                    try:
                        remove_parts(dfd, path.name, 0)
                    finally:
                        os.close(dfd)

    def other(self, path: Path, what: str) -> None:
        """Remove ``path``, not counted as a cache file (a memo, an orphaned part)."""
        if self.unlink(path):
            print(f"{self.verb} {path} ({what})")

    def summary(self, label: str = "") -> int:
        """Print what was removed (after ``label``, when given); the exit status: 1 when something could not be."""
        print(f"{label}{self.verb} {plural(self.removed, 'artifact')}, {human_size(self.freed)}")
        return 1 if self.failures else 0


def orphan_parts(folder: Path, kind: str = "") -> list[Path]:
    """Part files in ``folder`` whose cache file is gone and that no compilation is writing (parts are written
    before their file, under its lock file, which exists only while a compilation runs)."""
    try:
        names = set(os.listdir(folder))
    except OSError:
        return []
    found = []
    for name in sorted(names):
        artifact = parse_part_name(name, kind)
        if artifact is not None and artifact not in names and lock_name(artifact.removesuffix(".cwasm")) not in names:
            found.append(folder / name)
    return found


def memos(folder: Path) -> list[tuple[Path, bool]]:
    """The memos in ``folder`` (remembered module digests), each with whether it still describes its module."""
    try:
        names = sorted(entry.name for entry in os.scandir(folder))
    except OSError:
        return []
    return [(folder / name, memo_holds(folder / name)) for name in names if parse_memo_name(name) is not None]


def locked_leftovers(folder: Path, *, dry_run: bool) -> list[Path]:
    """Lock and temporary files in ``folder`` that no compilation holds (removed unless ``dry_run``).

    A compilation holds its lock file for as long as its temporary files
    exist, so both are left over exactly when that lock can be taken. Only
    the native cache's files and memos count: the reference backend's writers
    take no lock (see :func:`old_temporaries`).
    """
    try:
        dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return []
    try:
        with os.scandir(dfd) as listing:
            names = sorted(entry.name for entry in listing)
        stems: dict[str, list[str]] = {}
        for name in names:
            if name.startswith(".") and name.endswith(LOCK_SUFFIX):
                stems.setdefault(name[1 : -len(LOCK_SUFFIX)], []).append(name)
            elif (stem := temp_stem(name)) is not None and (
                    parse_name(stem + SUFFIX) is not None or parse_memo_name(f".{stem}{SUFFIX}") is not None):
                stems.setdefault(stem, []).append(name)  # the native cache's and memos': others take no lock
        found = []
        for stem, files in stems.items():
            lock = lock_name(stem)
            held = try_lock(dfd, lock)
            if held is None:
                continue  # a compilation is under way
            left = lock in files  # else try_lock made it, and releasing removes it again
            try:
                for name in files:
                    if name != lock and not dry_run:
                        with contextlib.suppress(OSError):
                            os.unlink(name, dir_fd=dfd)
            finally:
                if dry_run and left:
                    os.close(held)
                else:
                    release(dfd, lock, held)
            found += [folder / name for name in files]
        return found
    finally:
        os.close(dfd)


def old_temporaries(folder: Path, marks: tuple[str, ...], older_than: float) -> list[Path]:
    """Temporary files in ``folder`` whose stem contains one of ``marks`` and that are older than ``older_than``
    seconds: left over from an interrupted write of a cache that takes no lock."""
    found = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            stem = temp_stem(entry.name)
            if stem is not None and any(mark in stem + "." for mark in marks) \
                    and entry.stat(follow_symlinks=False).st_mtime < time.time() - older_than:
                found.append(Path(entry.path))
    return sorted(found)

