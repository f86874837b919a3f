"""Backend-neutral rules of the runtime's on-disk caches: names, location, trust, integrity, atomic writes, locks.

The reference backend's cache (``sysinspect_wasm_reference.cache``) is built on
these; they are the rules the native ``.cwasm`` cache of the wasmtime backend
follows (``sysinspect_wasm_production.cache``), written once here so that both
can share them:

- Location: beside the module by default; a folder of their own when
  :data:`CACHE_DIR_ENV` names one (an absolute path; created 0700). Files that
  belong to no module (the reference backend's compiled interpreter) go to the
  configured folder, else to a private per-user folder (:func:`user_dir`).
- Names: every file ends in :data:`SUFFIX` (``.cwasm``), so the runtime never
  takes one for a module; the 16 hex digits of the key in the name select
  the artifact, the full key is in its footer.
- Key: the SHA-256 of the content digest and the engine fingerprint
  (:func:`cache_key`): a changed module or engine never opens an old file.
- Trust: a file is read only when it is a regular file owned by the runtime's
  user or root and writable by no one else, opened without following symlinks
  in a folder passing the same test (:func:`unsafe_reason`).
- Integrity: payload, JSON manifest, then a fixed footer (:data:`FOOTER`:
  format, lengths, full key, CRC-32 of payload and manifest, magic); a file
  whose footer, length, key or checksum does not hold is :class:`Damaged`.
- Size: no file is written larger than :data:`MAX_FILE_BYTES` (10 MiB): a
  minion spawns the runtime with ``RLIMIT_FSIZE`` at 10 MiB, where a longer
  write fails (:class:`TooLarge` is raised before writing instead).
- Atomic writes: a temporary file (``O_EXCL``, no symlinks), fsync, rename,
  fsync of the folder: readers see no file or a whole one, and take no lock.

Not here: the native cache's write lock (``.<stem>.lock.cwasm``), which lets N
processes on a cold cache compile once. The reference backend's caches take no
lock: a process without the file must do the work anyway (decode, rewrite),
so waiting for another one would save it nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import struct
import zlib
from pathlib import Path
from typing import Any

from .errors import WasmRuntimeError

CACHE_DIR_ENV = "SYSINSPECT_WASM_CACHE_DIR"
"""An absolute path: keep cache files in this folder (created, mode 0700, if missing) instead of beside the modules."""
SUFFIX = ".cwasm"
TEMP_SUFFIX = ".tmp" + SUFFIX
KEY_CHARS = 16
MAGIC = b"sysiwasm"
FOOTER = struct.Struct("<IIQ32sI8s")
"""format, manifest length, payload length, key, CRC-32 of payload and manifest, magic (as the native cache's)."""
MAX_FILE_BYTES = 10 * 1024 * 1024
"""The largest file a cache writes: a minion's RLIMIT_FSIZE (10 MiB, soft and hard)."""
USER_DIR_NAME = "sysinspect-wasm"


class Damaged(WasmRuntimeError):
    """A cache file that fails its own checks: truncated, garbled, or built for another key or format."""


class TooLarge(WasmRuntimeError):
    """A cache file would be larger than :data:`MAX_FILE_BYTES`; it is not written."""


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data``, in hex."""
    return hashlib.sha256(data).hexdigest()


def cache_key(digest: str, fingerprint: str) -> str:
    """The key of content ``digest`` under the engine with ``fingerprint``, in hex."""
    return sha256_hex(f"{digest}:{fingerprint}".encode())


def file_name(stem: str, key: str, kind: str) -> str:
    """``<stem>.<first 16 hex digits of key><kind>.cwasm``: ``kind`` (e.g. ``.pywasm``) keeps caches apart."""
    return f"{stem}.{key[:KEY_CHARS]}{kind}{SUFFIX}"


def parse_name(name: str, kind: str) -> tuple[str, str] | None:
    """``(stem, key prefix)`` when ``name`` is a :func:`file_name` of ``kind``, else ``None``."""
    ending = kind + SUFFIX
    if not name.endswith(ending) or name.startswith("."):
        return None
    stem, _, prefix = name[: -len(ending)].rpartition(".")
    if not stem or len(prefix) != KEY_CHARS or prefix.strip("0123456789abcdef"):
        return None
    return stem, prefix


def configured_dir(explicit: str | os.PathLike[str] | None = None) -> tuple[Path | None, str]:
    """The folder to use instead of the module's own, and a warning about the setting ("" when none).

    ``explicit`` wins over :data:`CACHE_DIR_ENV`; ``None`` means beside the
    module. A relative path in the variable is ignored (the runtime's working
    directory is whatever the minion's is).
    """
    if explicit is not None:
        return Path(os.path.abspath(explicit)), ""
    value = os.environ.get(CACHE_DIR_ENV, "")
    if not value:
        return None, ""
    if not os.path.isabs(value):
        return None, f"{CACHE_DIR_ENV}={value!r} is not an absolute path and was ignored: cache files are kept beside the modules"
    return Path(value), ""


def user_dir() -> Path | None:
    """The private per-user folder for cache files that belong to no module, ``None`` when there is no home.

    ``$XDG_CACHE_HOME/sysinspect-wasm`` or ``~/.cache/sysinspect-wasm``; only
    absolute paths count (a minion's environment may have neither).
    """
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        home = os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    return Path(base) / USER_DIR_NAME


def unsafe_reason(st: os.stat_result, what: str) -> str:
    """Why a file or folder with status ``st`` must not be trusted ("" when it may be); root's files are trusted."""
    euid = os.geteuid()
    if st.st_uid not in (euid, 0):
        return f"{what} is owned by uid {st.st_uid}, neither the runtime's user (uid {euid}) nor root"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{what} is writable by other users (mode {stat.filemode(st.st_mode)})"
    return ""


def open_folder(folder: Path, create: bool) -> int:
    """A descriptor of ``folder`` (made 0700 first when ``create``); raises ``OSError``, or ``PermissionError``
    naming the reason when others could write it."""
    if create:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    problem = unsafe_reason(os.fstat(dfd), f"the cache folder {folder}")
    if problem:
        os.close(dfd)
        raise PermissionError(problem)
    return dfd


def pack(payload: bytes, manifest: dict[str, Any], key: str, fmt: int) -> list[bytes]:
    """The parts of a cache file: payload, manifest, footer."""
    meta = json.dumps(manifest, sort_keys=True).encode()
    checksum = zlib.crc32(meta, zlib.crc32(payload))
    return [payload, meta, FOOTER.pack(fmt, len(meta), len(payload), bytes.fromhex(key), checksum, MAGIC)]


def unpack(data: bytes, key: str | None, fmt: int) -> tuple[bytes, dict[str, Any], str]:
    """``(payload, manifest, key)`` of a whole cache file once its footer, length, key and checksum hold.

    ``key=None`` accepts any key. Raises :class:`Damaged`.
    """
    if len(data) < FOOTER.size:
        raise Damaged(f"truncated ({len(data)} bytes, shorter than the cache footer)")
    found_fmt, meta_len, payload_len, found, checksum, magic = FOOTER.unpack_from(data, len(data) - FOOTER.size)
    if magic != MAGIC:
        raise Damaged("truncated or garbled (no cache footer at its end)")
    if found_fmt != fmt:
        raise Damaged(f"written in cache format {found_fmt}, not {fmt}")
    if payload_len + meta_len + FOOTER.size != len(data):
        raise Damaged(f"truncated or garbled ({len(data)} bytes, its footer describes {payload_len + meta_len + FOOTER.size})")
    if key is not None and found != bytes.fromhex(key):
        raise Damaged("built from other content or by another engine (its key differs)")
    body = memoryview(data)[: payload_len + meta_len]
    if zlib.crc32(body) != checksum:
        raise Damaged("garbled (checksum mismatch)")
    try:
        manifest = json.loads(bytes(body[payload_len:]))
    except ValueError:
        raise Damaged("garbled (unreadable manifest)") from None
    if not isinstance(manifest, dict):
        raise Damaged("garbled (unreadable manifest)")
    return bytes(body[:payload_len]), manifest, found.hex()


def read_trusted(dfd: int | None, name: str | Path) -> bytes | None:
    """The bytes of cache file ``name`` (relative to folder ``dfd``), ``None`` when there is none.

    Raises :class:`PermissionError` naming why when it is not a regular file the
    runtime may trust (a symlink, another owner, writable by others).
    """
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dfd)
    except FileNotFoundError:
        return None
    except OSError as exc:  # a symlink (ELOOP) among others
        raise PermissionError(f"it cannot be opened safely ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        problem = unsafe_reason(st, "it") if stat.S_ISREG(st.st_mode) else "it is not a regular file"
        if problem:
            raise PermissionError(problem)
        if st.st_size > MAX_FILE_BYTES:
            raise PermissionError(f"it is larger ({st.st_size} bytes) than any file this cache writes")
        return os.pread(fd, st.st_size, 0)
    finally:
        os.close(fd)


def write_atomic(dfd: int, name: str, parts: list[bytes]) -> None:
    """Write ``parts`` as the file ``name`` in folder ``dfd`` whole (a rename) or not at all.

    Raises :class:`TooLarge` (nothing written) past :data:`MAX_FILE_BYTES`, ``OSError`` when it cannot be written.
    """
    size = sum(len(part) for part in parts)
    if size > MAX_FILE_BYTES:
        raise TooLarge(f"{name} would be {size} bytes, more than the {MAX_FILE_BYTES} bytes a minion may write")
    stem = name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name
    temp = f".{stem}.{os.urandom(6).hex()}{TEMP_SUFFIX}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dfd)
    try:
        try:
            for part in parts:
                view = memoryview(part)
                while view:
                    view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=dfd)
        raise
    with contextlib.suppress(OSError):  # not every file system can sync a folder
        os.fsync(dfd)


TRACE_ENV = "SYSINSPECT_WASM_CACHE_TRACE"
"""A file path: the caches append a line per event (``<event> <stem> pid=<pid>``), for tests and diagnosis."""


def trace(event: str, stem: str) -> None:
    """Append ``event`` about ``stem`` to the file :data:`TRACE_ENV` names, if any; never raises."""
    path = os.environ.get(TRACE_ENV)
    if not path:
        return
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, f"{event} {stem} pid={os.getpid()}\n".encode())
        finally:
            os.close(fd)
