"""Memo: a module file's digest, remembered by the file's identity, so a warm call need not read the module.

Reading and hashing a module of a few MB (and loading OpenSSL to do it) was
the larger part of what a warm call cost beyond wasmtime itself. So the
cache remembers, per module file, its digest and its key under the engine,
with the file's identity (device, inode, size, mtime and ctime, in
nanoseconds), in a memo ``.<id>.<CRC-32 of its path>.memo.cwasm`` beside
its cache files; a warm call whose module file still has that identity
takes the key from there (:func:`content_key`). Any write to the file, a
rename over it or a new file in its place changes the identity: the kernel
sets the ctime on every change, and no process can set it back. The one
gap, a second write within the file system's timestamp granularity of the
moment the identity was taken, is closed by only remembering files left
alone for :data:`SETTLE_NS` (3 s), and only when the identity held while
the file was hashed (on a network file system, whose server sets the times,
a server clock behind the runtime's by more than that shrinks the margin by
as much; so does setting the system clock back). A memo is believed only
under the rules of trust (:mod:`.trust`) and only for the same module path
and engine; anything else about it, and the module is read and hashed as if
there were none. Memos save reading the module, never checking a cache file.
"""

from __future__ import annotations

import os
import stat
import time

from .. import jsoncodec
from . import HASHED, Untrusted, trace
from .key import cache_key, fd_digest, is_hex_digest, module_id_of
from .layout import memo_name
from .trust import read_trusted

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

SETTLE_NS = 3_000_000_000
"""How long a module file must have been left alone (by its mtime and ctime) before its digest is remembered:
longer than any file system's timestamp granularity (FAT's is 2 s), so that no later write can leave both as
they were."""
MEMO_MAX_BYTES = 64 * 1024
"""A memo larger than this is not one of ours, and is not read."""


def file_identity(st: os.stat_result) -> list[int]:
    """What tells a file's content changed without reading it: device, inode, size, mtime and ctime (ns)."""
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def settled(st: os.stat_result, now_ns: int) -> bool:
    """True when the file with status ``st`` has been left alone for :data:`SETTLE_NS` at wall-clock time ``now_ns``."""
    return max(st.st_mtime_ns, st.st_ctime_ns) < now_ns - SETTLE_NS


def content_key(source: str | os.PathLike[str], dfd: int, material: dict[str, Any], fingerprint: Callable[[], str]) -> tuple[str, str]:
    """``(content digest, cache key)`` of the module file ``source`` for the engine with ``material``; raises
    ``OSError``. ``fingerprint`` gives the engine's digest only when it is needed: computing it loads OpenSSL,
    which a warm call with a memo never does.

    From the memo in the cache folder open at ``dfd`` when it is one the
    runtime may trust and it describes the file as it is now and this engine;
    else the file is read and hashed (traced as ``hashed``), and the memo
    (re)written once the file has settled (see :func:`settled`).
    """
    path = os.path.abspath(source)
    module_id = module_id_of(source)
    memo = memo_name(module_id, path)
    # opened, not only stat'ed: opening makes NFS revalidate the attributes it caches
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        before = os.fstat(fd)
        identity = file_identity(before)
        recalled = _recall(dfd, memo, path, identity, material)
        if recalled is not None:
            return recalled
        digest = fd_digest(fd)
        trace(HASHED, module_id)
        steady = file_identity(os.fstat(fd)) == identity and settled(before, time.time_ns())
    finally:
        os.close(fd)
    key = cache_key(digest, fingerprint())
    if steady:
        _remember(dfd, memo, {"module": path, "identity": identity, "module_sha256": digest, "engine": material,
                              "key": key})
    return digest, key


def _recall(dfd: int, memo: str, path: str, identity: list[int], material: dict[str, Any]) -> tuple[str, str] | None:
    """``(digest, key)`` from the memo ``memo`` in folder ``dfd`` if it may be trusted and still holds, else ``None``."""
    try:
        raw = read_trusted(dfd, memo, MEMO_MAX_BYTES)
    except (Untrusted, OSError):  # a memo that is not one the runtime may believe is no memo
        return None
    record = _record(raw) if raw is not None else None
    if record is None or record.get("module") != path or record.get("identity") != identity:
        return None
    digest, key = record.get("module_sha256"), record.get("key")
    if record.get("engine") != material or not is_hex_digest(digest) or not is_hex_digest(key):
        return None
    assert isinstance(digest, str) and isinstance(key, str)
    return digest, key


def _record(raw: bytes) -> dict[str, Any] | None:
    """The JSON object a memo holds, ``None`` for anything else."""
    try:
        record = jsoncodec.loads(raw)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _remember(dfd: int, memo: str, record: dict[str, Any]) -> None:
    """Write the memo ``memo`` in folder ``dfd`` whole (a rename), or not at all: it is only ever a shortcut.

    Not fsynced: a memo lost in a crash costs one hashing. Only a call that
    has just hashed the module gets here, so the writer's import is no cost
    to a warm call.
    """
    # the stem ``<id>.<crc>.memo`` tells cache prune whose temporary file it is (maintenance.locked_leftovers)
    import contextlib  # off the warm path

    from .concurrency import write_atomic

    with contextlib.suppress(OSError):
        write_atomic(dfd, memo, [jsoncodec.dumps(record, sort_keys=True).encode()], memo[1:].removesuffix(".cwasm"),
                     sync=False)


def memo_holds(path: Path) -> bool:
    """True when the memo at ``path`` still describes its module file as it is; never raises.

    For ``cache prune``: a memo whose module is gone or changed is only dead
    weight (the runtime would never use it, and writes a new one when it may).
    Read whoever wrote it (never through a symlink): only its state is told.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        raw = os.pread(fd, MEMO_MAX_BYTES, 0) if stat.S_ISREG(st.st_mode) and st.st_size <= MEMO_MAX_BYTES else b""
    except OSError:
        return False
    finally:
        os.close(fd)
    record = _record(raw)
    module = record.get("module") if record is not None else None
    if record is None or not isinstance(module, str):
        return False
    try:
        return file_identity(os.stat(module)) == record.get("identity")
    except (OSError, ValueError):
        return False
