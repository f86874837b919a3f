"""Concurrency: writes that readers never see half done, and one compilation for N processes on a cold cache.

Readers take no lock: a rename puts a whole file in place, so they see
none or a whole one. A writer writes a temporary file (``O_EXCL``, no
symlinks) named after the artifact's stem, fsyncs it, renames it over the
name and fsyncs the folder (:func:`write_atomic`). An artifact too large for
the process's file-size limit (:func:`size_limit`: a root minion sets
``RLIMIT_FSIZE`` to 10 MiB) has its payload written as parts first and the
file naming them last (:func:`write_artifact`).

The native cache's writers also hold an ``flock`` on the artifact's lock
file ``.<stem>.lock.cwasm`` (:func:`acquire`), look again (another process
may just have built it), compile and write: N processes on a cold cache
thus compile once, the others wait and load what it stored. A holder
unlinks the lock file before it lets go, so a lock only counts while the
file it was taken on is still the one at its name. The reference backend's
caches take no lock: a process without the file must decode the module
anyway, so waiting for another one would save it nothing.
"""

from __future__ import annotations

import contextlib
import os
import time

from . import Damaged, TooLarge
from .fileformat import Formats, pack, pack_parted, read_manifest
from .layout import SUFFIX, parse_name, part_name, temp_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

Piece = bytes | bytearray | memoryview


def size_limit() -> int | None:
    """The largest file this process may write (its soft ``RLIMIT_FSIZE``), ``None`` when unlimited."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else soft


def fsync_folder(dfd: int) -> None:
    """Make the renames in folder ``dfd`` durable, where the file system can (not every one syncs a folder)."""
    with contextlib.suppress(OSError):
        os.fsync(dfd)


def write_atomic(dfd: int, name: str, pieces: Sequence[Piece], stem: str | None = None, *, sync: bool = True) -> None:
    """Write ``pieces`` as the file ``name`` in folder ``dfd``, whole (a rename) or not at all.

    The temporary file is named after ``stem`` (default: ``name`` without
    ``.cwasm``), so that ``cache prune`` can tell whose it is. With ``sync``
    the file is fsynced before the rename (a memo, only ever a shortcut, is
    not). Raises ``OSError`` when it cannot be written; the folder is not
    fsynced (see :func:`fsync_folder`), so that several files can share one sync.
    """
    temp = temp_name(stem if stem is not None else name.removesuffix(SUFFIX))
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dfd)
    try:
        try:
            for piece in pieces:
                view = memoryview(piece)
                while view:
                    view = view[os.write(fd, view):]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=dfd)
        raise


def write_artifact(dfd: int, name: str, payload: Piece, manifest: dict[str, Any], key: str, formats: Formats,
                   cap: int | None = None) -> int:
    """Store ``payload`` with ``manifest`` under ``key`` as the cache file ``name``; the number of parts (0: whole).

    Its temporary files are named after its stem (``name`` without ``.cwasm``), whose lock a native writer holds.

    Whole when it fits the process's :func:`size_limit` (and ``cap``, the
    most this kind of file may have); else in parts if ``formats`` has a
    parted format, written before the file naming them. Raises
    :class:`~sysinspect_wasm.store.TooLarge` (nothing written) when it fits
    neither way, ``OSError`` when it cannot be written. Parts left by an
    earlier file of the same name are removed.
    """
    stem = name.removesuffix(SUFFIX)
    limit = size_limit()
    if cap is not None:
        limit = cap if limit is None else min(limit, cap)
    pieces = pack(payload, manifest, key, formats.whole)
    whole = sum(len(piece) for piece in pieces)
    if limit is None or whole <= limit:
        write_atomic(dfd, name, pieces, stem)
        remove_parts(dfd, name, 0)
        fsync_folder(dfd)
        return 0
    if not formats.parted:
        raise TooLarge(f"{name} would be {whole} bytes, more than the {limit} bytes this process may write "
                       "(RLIMIT_FSIZE)")
    try:
        parts, head = pack_parted(payload, manifest, key, formats.parted, limit)
    except ValueError as exc:
        raise TooLarge(f"the process may write files of at most {limit} bytes (RLIMIT_FSIZE), and {exc}") from None
    try:  # parts first, the file naming them last: a reader sees no artifact or a whole one
        for index, part in enumerate(parts):
            write_atomic(dfd, part_name(name, index), (part,), stem)
        write_atomic(dfd, name, head, stem)
    except BaseException:  # (the old file did not load, or no one would be storing it: its parts are no loss)
        remove_parts(dfd, name, 0)
        raise
    remove_parts(dfd, name, len(parts))
    fsync_folder(dfd)
    return len(parts)


def remove_parts(dfd: int, artifact: str, keep: int) -> int:
    """Remove the parts of ``artifact`` in folder ``dfd`` from number ``keep`` on; how many were removed."""
    index = keep
    while True:
        try:
            os.unlink(part_name(artifact, index), dir_fd=dfd)
        except OSError:  # the first one missing ends the list
            return index - keep
        index += 1


def unlink_artifact(dfd: int, artifact: str) -> None:
    """Remove the cache file ``artifact`` in folder ``dfd`` and its parts, if any."""
    with contextlib.suppress(OSError):
        os.unlink(artifact, dir_fd=dfd)
    remove_parts(dfd, artifact, 0)


def remove_superseded(dfd: int, keep: str, kind: str, formats: Formats, module: str,
                      superseded: Callable[[dict[str, Any]], bool]) -> None:
    """Remove the cache files of ``kind`` in folder ``dfd`` that were made from the module file at path
    ``module`` (and named for it, as ``keep`` is) and that ``superseded`` says can never load again, given their
    manifest; files whose footer cannot be read are left to ``cache prune``."""
    parsed_keep = parse_name(keep, kind)
    with os.scandir(dfd) as entries:
        names = [entry.name for entry in entries]
    for name in names:
        parsed = parse_name(name, kind)
        if name == keep or parsed is None or parsed_keep is None or parsed[0] != parsed_keep[0]:
            continue
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dfd)
        except OSError:
            continue
        try:
            _, manifest = read_manifest(fd, os.fstat(fd).st_size, formats)
        except (Damaged, OSError):
            continue
        finally:
            os.close(fd)
        if manifest.get("module") == module and superseded(manifest):
            unlink_artifact(dfd, name)


def acquire(dfd: int, name: str, wait: float, on_wait: Callable[[], None] | None = None) -> int | None:
    """A descriptor holding the lock file ``name`` in folder ``dfd``, or ``None`` after ``wait`` seconds.

    Raises ``OSError`` when the lock file cannot be created. ``on_wait`` is
    called once, when the lock is first found held.
    """
    import fcntl

    deadline = time.monotonic() + wait
    pause = 0.002
    while True:
        fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dfd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if on_wait is not None and pause == 0.002:
                on_wait()
            if time.monotonic() >= deadline:
                return None
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
            continue
        except BaseException:
            os.close(fd)
            raise
        mine = os.fstat(fd)
        try:
            current = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            current = None
        if current is not None and (current.st_dev, current.st_ino) == (mine.st_dev, mine.st_ino):
            return fd
        os.close(fd)


def release(dfd: int, name: str, fd: int) -> None:
    """Remove the lock file ``name`` and let go of the lock held at ``fd``."""
    with contextlib.suppress(OSError):
        os.unlink(name, dir_fd=dfd)
    os.close(fd)


def try_lock(dfd: int, name: str) -> int | None:
    """The lock file ``name`` in folder ``dfd`` if no one holds it now (see :func:`release`); never waits."""
    try:
        return acquire(dfd, name, 0.0)
    except OSError:
        return None
