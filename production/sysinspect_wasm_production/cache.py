"""The compiled-artifact cache: compile a module once per node, never load stale, torn or foreign native code.

Key. An artifact is keyed by :func:`cache_key`: the SHA-256 of the module's
content digest and the engine fingerprint
(:meth:`~.engine.EngineSettings.fingerprint`: engine settings, wasmtime
version, target, rewriter version). A changed module or a new engine gives a
new key, so an old artifact is never even opened for it.

Memo. Reading and hashing a module of a few MB (and loading OpenSSL to do
it) was the larger part of what a warm call cost beyond wasmtime itself. So
the cache remembers, per module file, its digest and its key under the
engine, with the file's identity (device, inode, size, mtime and ctime, in
nanoseconds), in a memo file ``.<id>.<CRC-32 of its path>.memo.cwasm``; a
warm call whose module file still has that identity takes the key from
there (:func:`content_key`). Any write to the file, a rename over it or a
new file in its place changes the identity: the kernel sets the ctime on
every change, and no process can set it back. The one gap, a second write
within the file system's timestamp granularity of the moment the identity
was taken, is closed by only remembering files left alone for
:data:`SETTLE_NS` (3 s), and only when the identity held while the file was
hashed (on a network file system, whose server sets the times, a server
clock behind the runtime's by more than that shrinks the margin by as much;
so does setting the system clock back). A memo is believed only under the artifacts' rules of trust
(below) and only for the same module path and engine; anything else about
it, and the module is read and hashed as if there were none. The artifact
itself is still checked in full on every load: memos save reading the
module, never checking native code.

Layout. One file per artifact, ``<id>.<first 16 hex digits of the key>.cwasm``,
where ``<id>`` is the module's file name without ``.wasm``. By default it sits
beside the module, as upstream's does (PROTOCOL.md 3), so a sync that removes
untracked files clears it. :data:`CACHE_DIR_ENV` (or the backend's
``cache_dir``) puts artifacts in a folder of their own instead, for read-only
sharelibs. While an artifact is written, ``.<stem>.lock.cwasm`` and
``.<stem>.<random>.tmp.cwasm`` exist beside it; memos sit there too. Every
file the cache makes ends in ``.cwasm``, is never a module (PROTOCOL.md
1.4), and may be deleted at any time.

Parts. A process may not write a file past its ``RLIMIT_FSIZE`` (a root
minion sets 10 MiB, soft and hard, and a standard-Go module's native code is
larger). When a whole artifact would pass that limit, the native code goes
into part files ``.<stem>.<n>.part.cwasm`` of at most the limit (and at most
:data:`PART_BYTES_MAX`; no more than :data:`MAX_PARTS` of them, else the
module runs uncached with a warning) and the artifact file itself holds only
the manifest (with the parts' lengths) and the footer, in
:data:`PARTED_FORMAT`. Every
part is opened and checked like an artifact (regular file, owner, mode, no
symlink, its length), read into memory while its checksum is computed, and
wasmtime deserializes those checked bytes: memory, not a file, because
writing a copy would pass the same limit (a memfd included). Parts are
written first and the artifact file last, so a reader sees no artifact or a
complete one.

Private folder. A user other than root who cannot write the module's folder
(a minion that drops to an unprivileged uid, PROTOCOL.md 5.4) keeps its
artifacts and memos in ``/var/tmp/sysinspect-wasm-<uid>`` (see
:func:`private_dir`): made mode 0700, and used only while it is a real folder
owned by that uid that no one else can enter. The environment is the minion's
own (``HOME`` is root's), so nothing is taken from it.

Format. wasmtime's serialized module (an ELF object), then a JSON manifest
(module, content digest, engine material, memory.grow guards, rewriter note,
the layout facts a run needs: :data:`~.program.LayoutFacts`),
then a fixed footer (:data:`FOOTER`): format, lengths, the full key, the
CRC-32 of everything before the footer, and a magic number. The checksum is
there to catch damage (a truncated, garbled or half-copied file), not an
attacker: whoever can write the file could rewrite any unkeyed digest with
it, which is why who may write it is checked instead. CRC-32 catches damage as
well as SHA-256 would at a third of the cost (measured on a 10 MB artifact:
1.4 ms against 4.8 ms, on every warm call). wasmtime finds
an ELF object's parts through its headers and ignores bytes after them, so
the file goes to ``Module.deserialize_file`` as it is; that maps the file
instead of copying it (measured on a 10 MB artifact: 0.1 ms against 20 ms
for deserializing from bytes).

Trust. Before wasmtime reads a byte of it, an artifact must be a regular
file owned by the runtime's user or by root and writable by no one else, in
a folder that passes the same test (opened once; the file is opened relative
to it, without following symlinks); its footer must carry the expected key,
its length must match and its checksum must verify. wasmtime then reads the
very file that was checked (through ``/proc/self/fd``) and checks its own
version and settings once more. A damaged or foreign artifact is removed and
rebuilt; one others could have written is not loaded but replaced, with a
warning; a folder others can write is not used at all (the module is compiled
in memory, with a warning).

Concurrency. Readers take no lock: a rename puts a whole artifact in place,
so they see none or a whole one. Writers hold an ``flock`` on the lock file,
look again (another process may just have built it), compile, write a
temporary file, fsync it, rename it and fsync the folder. N processes on a
cold cache thus compile once; the others wait and load what it stored.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import wasmtime

from sysinspect_wasm.errors import ModuleLoadError, WasmRuntimeError
from sysinspect_wasm.records import FrozenRecord

from .engine import EngineHandle, sha256
from .program import LayoutFacts, Program, compile_module, layout_facts, restore_program, valid_facts
from .traps import summary

CACHE_DIR_ENV = "SYSINSPECT_WASM_CACHE_DIR"
"""An absolute path: keep artifacts in this folder (created, mode 0700, if missing) instead of beside the modules."""
TRACE_ENV = "SYSINSPECT_WASM_CACHE_TRACE"
"""A file path: append a line per compilation (``compiled``), per load (``loaded``), when a process has to wait
for another one compiling the same module (``waiting``), and when a module file is read to learn its content
digest (``hashed``: not remembered, see :func:`content_key`); for tests and diagnosis."""

SUFFIX = ".cwasm"
LOCK_SUFFIX = ".lock" + SUFFIX
TEMP_SUFFIX = ".tmp" + SUFFIX
MODULE_SUFFIX = ".wasm"
KEY_CHARS = 16
"""Hex digits of the key in an artifact's name; the full key is in its footer."""
FORMAT = 2
"""Version of the artifact format; 2 added the layout facts to the manifest."""
PARTED_FORMAT = 3
"""The same artifact with its native code in part files (see the module's docstring, Parts)."""
PART_SUFFIX = ".part" + SUFFIX
PART_BYTES_MAX = 10 * 1024 * 1024
"""Largest part file: a root minion spawns modules with RLIMIT_FSIZE at 10 MiB (PROTOCOL.md 5.4)."""
MAX_PARTS = 64
"""Most parts an artifact is split into: a limit so small that it needs more is not worth caching under."""
PRIVATE_ROOT = "/var/tmp"
"""Where an unprivileged user's private cache folder ``sysinspect-wasm-<uid>`` is made: outside the sharelib
(a sync deletes what it does not list there), kept across reboots, and writable by every user."""
MAGIC = b"sysiwasm"
FOOTER = struct.Struct("<IIQ32sI8s")
"""format, manifest length, payload length, key, CRC-32 of payload and manifest, magic."""
MEMO_SUFFIX = ".memo" + SUFFIX
READ_CHUNK = 256 * 1024
"""Bytes per read when hashing a module or checking an artifact: a small buffer, reused, costs less than one of
the file's size (fresh memory costs as much as the hashing) and, unlike a mapping, cannot turn a file truncated
meanwhile into SIGBUS."""
SETTLE_NS = 3_000_000_000
"""How long a module file must have been left alone (by its mtime and ctime) before its digest is remembered:
longer than any file system's timestamp granularity (FAT's is 2 s), so that no later write can leave both as
they were."""
MEMO_MAX_BYTES = 64 * 1024
"""A memo file larger than this is not one of ours, and is not read."""
LOCK_WAIT_SECONDS = 600.0
"""How long to wait for another process compiling the same module before compiling in memory."""

LOADED = "loaded"
COMPILED = "compiled"
UNCACHED = "uncached"
WAITING = "waiting"
HASHED = "hashed"


class Damaged(WasmRuntimeError):
    """An artifact that fails its own checks: truncated, garbled, foreign, or refused by wasmtime."""


class Untrusted(Damaged):
    """A part of an artifact that others could have written (see the module's docstring, Trust)."""


# Records rather than dataclasses here: this module is imported by every
# warm call, and each dataclass costs a code generation at import time.


class Loaded(FrozenRecord):
    """A program and how it was obtained.

    ``status`` is :data:`LOADED` (from an artifact), :data:`COMPILED`
    (compiled and stored) or :data:`UNCACHED` (compiled, not stored: the
    warnings say why). ``artifact`` is the artifact's path, if there is one.
    """

    __match_args__ = ("program", "status", "artifact", "warnings")
    program: Program
    status: str
    artifact: Path | None
    warnings: tuple[str, ...]

    def __init__(self, program: Program, status: str, artifact: Path | None = None,
                 warnings: tuple[str, ...] = ()) -> None:
        self.__dict__.update(program=program, status=status, artifact=artifact, warnings=warnings)


class _Attempt(FrozenRecord):
    """One try at loading an artifact: the program, or what was wrong with the file (and whether that was trust)."""

    __match_args__ = ("program", "problem", "untrusted")
    program: Program | None
    problem: str
    untrusted: bool

    def __init__(self, program: Program | None = None, problem: str = "", untrusted: bool = False) -> None:
        self.__dict__.update(program=program, problem=problem, untrusted=untrusted)


class ArtifactInfo(FrozenRecord):
    """What an artifact file says about itself (for ``cache list`` and ``cache prune``).

    ``problem`` is empty for an intact artifact that may be loaded; ``key``
    and ``manifest`` are empty when the file could not be read as one.
    """

    __match_args__ = ("path", "size", "key", "manifest", "problem")
    path: Path
    size: int
    key: str
    manifest: dict[str, Any]
    problem: str

    def __init__(self, path: Path, size: int, key: str = "", manifest: dict[str, Any] | None = None,
                 problem: str = "") -> None:
        self.__dict__.update(path=path, size=size, key=key, manifest=manifest or {}, problem=problem)


def content_digest(data: bytes) -> str:
    """The SHA-256 of a module's bytes, in hex."""
    return sha256(data).hexdigest()


def file_digest(path: Path) -> str:
    """The SHA-256 of the file at ``path``, in hex (as :func:`content_digest` of its bytes); raises ``OSError``."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        return _digest_of(fd)
    finally:
        os.close(fd)


def _digest_of(fd: int) -> str:
    digest = sha256()
    for chunk in _chunks(fd, None):
        digest.update(chunk)
    return digest.hexdigest()


def _chunks(fd: int, length: int | None) -> Iterator[memoryview]:
    """The first ``length`` bytes of the file open at ``fd`` (``None``: all of it), from offset 0, through one
    reused buffer of :data:`READ_CHUNK` bytes (each chunk is only valid until the next); it may end early at
    the end of the file."""
    buffer = bytearray(READ_CHUNK)
    view = memoryview(buffer)
    offset = 0
    while length is None or offset < length:
        want = READ_CHUNK if length is None else min(READ_CHUNK, length - offset)
        count = os.preadv(fd, [view[:want]], offset)
        if not count:
            return
        yield view[:count]
        offset += count


def cache_key(digest: str, fingerprint: str) -> str:
    """The cache key of module content ``digest`` compiled by the engine with ``fingerprint``, in hex."""
    return sha256(f"{digest}:{fingerprint}".encode()).hexdigest()


def module_id_of(source: Path) -> str:
    """The module id of a module file: its name without ``.wasm``."""
    name = source.name
    return name[: -len(MODULE_SUFFIX)] if name.endswith(MODULE_SUFFIX) and name != MODULE_SUFFIX else name


def artifact_name(module_id: str, key: str) -> str:
    """The file name of the artifact of module ``module_id`` under ``key``."""
    return f"{module_id}.{key[:KEY_CHARS]}{SUFFIX}"


def parse_artifact_name(name: str) -> tuple[str, str] | None:
    """``(module id, key prefix)`` when ``name`` is an artifact's name (not a lock or temporary file), else ``None``."""
    if not name.endswith(SUFFIX) or name.endswith((LOCK_SUFFIX, TEMP_SUFFIX)):
        return None
    module_id, _, prefix = name[: -len(SUFFIX)].rpartition(".")
    if not module_id or len(prefix) != KEY_CHARS or prefix.strip("0123456789abcdef"):
        return None
    return module_id, prefix


def configured_dir(explicit: str | os.PathLike[str] | None) -> tuple[Path | None, str]:
    """The cache folder to use instead of the module's own, and a warning about the setting ("" when none).

    ``explicit`` (the backend's ``cache_dir``) wins over :data:`CACHE_DIR_ENV`;
    ``None`` means beside the module. A relative path in the variable is
    ignored (the runtime's working directory is whatever the minion's is).
    """
    if explicit is not None:
        return Path(os.path.abspath(explicit)), ""
    value = os.environ.get(CACHE_DIR_ENV, "")
    if not value:
        return None, ""
    if not os.path.isabs(value):
        return None, f"{CACHE_DIR_ENV}={value!r} is not an absolute path and was ignored: artifacts are kept beside the modules"
    return Path(value), ""


def private_dir() -> Path:
    """The private cache folder of this process's user: ``/var/tmp/sysinspect-wasm-<uid>``."""
    return Path(PRIVATE_ROOT) / f"sysinspect-wasm-{os.geteuid()}"


def cache_folder(source: Path, explicit: str | os.PathLike[str] | None) -> tuple[Path, bool, str]:
    """``(folder, whether to create it, warning)``: where the artifact of the module file ``source`` lives.

    The configured folder (see :func:`configured_dir`) if there is one; else
    the module's own folder; else, for a user other than root who cannot
    write that folder, the user's private folder (:func:`private_dir`).
    """
    folder, warning = configured_dir(explicit)
    if folder is not None:
        return folder, True, warning
    beside = Path(os.path.abspath(source)).parent
    if os.geteuid() == 0 or os.access(beside, os.W_OK):
        return beside, False, warning
    private = private_dir()
    if not os.path.isdir(private):
        with contextlib.suppress(OSError):
            os.mkdir(private, 0o700)
    try:
        st = os.lstat(private)
    except OSError as exc:
        return beside, False, f"cannot make the private compile cache folder {private} ({exc.strerror or exc})"
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
        return beside, False, (f"not using {private} as the private compile cache folder: it is not a folder "
                               f"of uid {os.geteuid()} with mode 0700 ({stat.filemode(st.st_mode)}, uid {st.st_uid})")
    return private, False, warning


def unsafe_reason(st: os.stat_result, what: str) -> str:
    """Why native code in a file or folder with status ``st`` must not be trusted ("" when it may be).

    Root's files are trusted too: root can replace the runtime itself.
    """
    euid = os.geteuid()
    if st.st_uid not in (euid, 0):
        return f"{what} is owned by uid {st.st_uid}, neither the runtime's user (uid {euid}) nor root"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{what} is writable by other users (mode {stat.filemode(st.st_mode)})"
    return ""


def _footer(fd: int, size: int) -> tuple[int, int, int, bytes, int]:
    """``(format, payload length, manifest length, key, checksum)`` from the footer of the artifact open at ``fd``."""
    if size < FOOTER.size:
        raise Damaged(f"truncated ({size} bytes, shorter than the cache footer)")
    fmt, meta_len, payload_len, key, checksum, magic = FOOTER.unpack(os.pread(fd, FOOTER.size, size - FOOTER.size))
    if magic != MAGIC:
        raise Damaged("truncated or garbled (no cache footer at its end)")
    if fmt not in (FORMAT, PARTED_FORMAT):
        raise Damaged(f"written in cache format {fmt}, not {FORMAT} or {PARTED_FORMAT}")
    held = meta_len + (payload_len if fmt == FORMAT else 0)
    if held != size - FOOTER.size or payload_len == 0:
        raise Damaged(f"truncated or garbled ({size} bytes, its footer describes {held + FOOTER.size})")
    return fmt, payload_len, meta_len, key, checksum


def _meta_offset(fmt: int, payload_len: int) -> int:
    """Where the manifest starts in an artifact file: after the native code, unless that is in parts."""
    return payload_len if fmt == FORMAT else 0


def read_manifest(fd: int, size: int) -> tuple[bytes, dict[str, Any]]:
    """``(key, manifest)`` of the artifact open at ``fd``, checking its footer but not its checksum; raises :class:`Damaged`."""
    fmt, payload_len, meta_len, key, _ = _footer(fd, size)
    return key, _manifest(os.pread(fd, meta_len, _meta_offset(fmt, payload_len)))


def part_name(artifact: str, index: int) -> str:
    """The file name of part ``index`` of the artifact named ``artifact``."""
    return f".{artifact[: -len(SUFFIX)]}.{index}{PART_SUFFIX}"


def _split_hidden(name: str, suffix: str) -> tuple[str, str]:
    """``(head, last field)`` of a hidden cache file's name ``.<head>.<field><suffix>``; ``("", "")`` for another name."""
    if not name.startswith(".") or not name.endswith(suffix):
        return "", ""
    head, _, field = name[1 : -len(suffix)].rpartition(".")
    return head, field


def parse_part_name(name: str) -> str | None:
    """The artifact's file name when ``name`` is one of its parts' names, else ``None``."""
    stem, index = _split_hidden(name, PART_SUFFIX)
    if not stem or not index.isdigit() or not index.isascii() or parse_artifact_name(stem + SUFFIX) is None:
        return None
    return stem + SUFFIX


def _part_lengths(manifest: dict[str, Any], payload_len: int) -> list[int]:
    parts = manifest.get("parts")
    if (not isinstance(parts, list) or not 0 < len(parts) <= MAX_PARTS
            or not all(type(n) is int and 0 < n <= PART_BYTES_MAX for n in parts) or sum(parts) != payload_len):
        raise Damaged("garbled (its manifest does not describe its parts)")
    return parts


def _read_parts(dfd: int, artifact: str, lengths: list[int], crc: int) -> tuple[bytearray, int]:
    """The native code in the parts of ``artifact`` in folder ``dfd``, and the running CRC-32 over it.

    Each part must pass the artifacts' rules of trust and have its length;
    raises :class:`Damaged` (:class:`Untrusted` for a part others could have written).
    """
    payload = bytearray(sum(lengths))
    view = memoryview(payload)
    offset = 0
    for index, length in enumerate(lengths):
        name = part_name(artifact, index)
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dfd)
        except FileNotFoundError:
            raise Damaged(f"incomplete (its part {name} is missing)") from None
        except OSError as exc:
            raise Untrusted(f"its part {name} cannot be opened safely ({exc.strerror or exc})") from None
        try:
            st = os.fstat(fd)
            problem = unsafe_reason(st, f"its part {name}") if stat.S_ISREG(st.st_mode) else f"its part {name} is not a regular file"
            if problem:
                raise Untrusted(problem)
            if st.st_size != length:
                raise Damaged(f"truncated or garbled (its part {name} has {st.st_size} bytes, not {length})")
            done = 0
            while done < length:
                count = os.preadv(fd, [view[offset + done : offset + length]], done)
                if not count:
                    raise Damaged(f"truncated while it was read (part {name})")
                done += count
        finally:
            os.close(fd)
        crc = zlib.crc32(view[offset : offset + length], crc)
        offset += length
    return payload, crc


def verify(fd: int, size: int, key: bytes | None, dfd: int | None = None,
           artifact: str = "") -> tuple[bytes, dict[str, Any], bytearray | None]:
    """``(key, manifest, native code)`` of the artifact open at ``fd`` once its footer, length, key and checksum hold.

    ``key=None`` accepts any key. The native code is ``None`` for an artifact
    in one file (wasmtime maps the file itself); for one in parts it is the
    bytes of its parts, read from folder ``dfd`` (the artifact's own file name
    is ``artifact``). Raises :class:`Damaged`.
    """
    fmt, payload_len, meta_len, found, checksum = _footer(fd, size)
    if key is not None and found != key:
        raise Damaged("built from other module content or by another engine (its key differs)")
    meta_at = _meta_offset(fmt, payload_len)
    meta = os.pread(fd, meta_len, meta_at)
    if len(meta) != meta_len:
        raise Damaged("truncated while it was read")
    payload: bytearray | None = None
    crc = read = 0
    if fmt == FORMAT:
        for chunk in _chunks(fd, payload_len):
            crc = zlib.crc32(chunk, crc)
            read += len(chunk)
        if read != payload_len:
            raise Damaged("truncated while it was read")
    else:
        if dfd is None:
            raise Damaged("in parts, and its folder is unknown")
        payload, crc = _read_parts(dfd, artifact, _part_lengths(_json_object(meta), payload_len), crc)
    if zlib.crc32(meta, crc) != checksum:
        raise Damaged("garbled (checksum mismatch)")
    return found, _manifest(meta), payload


def _json_object(meta: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(meta)
    except ValueError:
        raise Damaged("garbled (unreadable manifest)") from None
    if not isinstance(manifest, dict):
        raise Damaged("garbled (unreadable manifest)")
    return manifest


def _manifest(meta: bytes) -> dict[str, Any]:
    manifest = _json_object(meta)
    guards, note = manifest.get("guards"), manifest.get("note")
    if not isinstance(guards, list) or not all(type(g) is int for g in guards) or not isinstance(note, str):
        raise Damaged("garbled (manifest without guards or note)")
    if not valid_facts(manifest.get("layout")):
        raise Damaged("garbled (manifest without layout facts)")
    return manifest


def inspect(path: Path) -> ArtifactInfo:
    """What the artifact at ``path`` says about itself, checksum included; never raises."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        return ArtifactInfo(path, 0, problem=f"cannot be opened ({exc.strerror or exc})")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return ArtifactInfo(path, 0, problem="not a regular file")
        try:
            dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                key, manifest, payload = verify(fd, st.st_size, None, dfd, path.name)
            finally:
                os.close(dfd)
        except Damaged as exc:
            return ArtifactInfo(path, st.st_size, problem=str(exc))
        except OSError as exc:
            return ArtifactInfo(path, st.st_size, problem=f"cannot be read ({exc.strerror or exc})")
        size = st.st_size + (len(payload) if payload is not None else 0)
        try:
            unsafe = unsafe_reason(st, "the file") or unsafe_reason(os.stat(path.parent), "its folder")
        except OSError as exc:
            unsafe = f"its folder cannot be checked ({exc.strerror or exc})"
        return ArtifactInfo(path, size, key.hex(), manifest, unsafe)
    finally:
        os.close(fd)


# -- loading ------------------------------------------------------------------


def load_program_file(handle: EngineHandle, name: str, source: Path,
                      cache_dir: str | os.PathLike[str] | None = None) -> Loaded:
    """The program of the module file ``source``: :func:`load_program` of its bytes, warm calls made cheap.

    The module's content key comes from :func:`content_key`: remembered, or
    read through a small buffer. When its artifact loads, the module's bytes
    are never held in memory at all (a program restored from an artifact
    decodes the module's layout only when asked, from the file read again,
    and only if its content is still the one the artifact was built from).
    Anything else (no artifact yet, a damaged one, an unusable folder) reads
    the module and goes the way of :func:`load_program`, warnings and all.
    Raises :class:`~sysinspect_wasm.errors.ModuleLoadError` when the module
    cannot be read, or is not valid.
    """
    folder, _, warning = cache_folder(source, cache_dir)
    try:
        dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        dfd = -1
    try:
        if dfd >= 0 and not unsafe_reason(os.fstat(dfd), "it"):
            try:
                digest, key = content_key(handle, source, dfd)
            except OSError as exc:
                raise _unreadable(name, source, exc) from None
            stem = f"{module_id_of(source)}.{key[:KEY_CHARS]}"

            def reader() -> bytes | None:
                return _read_unchanged(source, digest)

            attempt = _try_load(handle, name, reader, dfd, stem + SUFFIX, bytes.fromhex(key))
            if attempt.program is not None:
                _trace(LOADED, stem)
                return Loaded(attempt.program, LOADED, folder / (stem + SUFFIX), (warning,) if warning else ())
    finally:
        if dfd >= 0:
            os.close(dfd)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise _unreadable(name, source, exc) from None
    return load_program(handle, name, data, source, cache_dir)


# -- remembered content digests (see the module's docstring, Memo) ---------------


def memo_name(module_id: str, source: str) -> str:
    """The memo file's name for the module file at absolute path ``source`` (one per path, so shared folders work)."""
    return f".{module_id}.{zlib.crc32(os.fsencode(source)):08x}{MEMO_SUFFIX}"


def parse_memo_name(name: str) -> str | None:
    """The module id when ``name`` is a memo file's name, else ``None``."""
    module_id, crc = _split_hidden(name, MEMO_SUFFIX)
    if not module_id or len(crc) != 8 or crc.strip("0123456789abcdef"):
        return None
    return module_id


def file_identity(st: os.stat_result) -> list[int]:
    """What tells a file's content changed without reading it: device, inode, size, mtime and ctime (ns)."""
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def settled(st: os.stat_result, now_ns: int) -> bool:
    """True when the file with status ``st`` has been left alone for :data:`SETTLE_NS` at wall-clock time ``now_ns``."""
    return max(st.st_mtime_ns, st.st_ctime_ns) < now_ns - SETTLE_NS


def content_key(handle: EngineHandle, source: Path, dfd: int) -> tuple[str, str]:
    """``(content digest, cache key)`` of the module file ``source`` for ``handle``'s engine; raises ``OSError``.

    From the memo in the cache folder open at ``dfd`` when it is one the
    runtime may trust and it describes the file as it is now and this engine;
    else the file is read and hashed, and the memo (re)written once the file
    has settled (see :func:`settled`).
    """
    path = os.path.abspath(source)
    memo = memo_name(module_id_of(source), path)
    material = handle.settings.material()
    # opened, not only stat'ed: opening makes NFS revalidate the attributes it caches
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        before = os.fstat(fd)
        identity = file_identity(before)
        recalled = _recall(dfd, memo, path, identity, material)
        if recalled is not None:
            return recalled
        digest = _digest_of(fd)
        _trace(HASHED, module_id_of(source))
        steady = file_identity(os.fstat(fd)) == identity and settled(before, time.time_ns())
    finally:
        os.close(fd)
    key = cache_key(digest, handle.settings.fingerprint())
    if steady:
        _remember(dfd, memo, {"module": path, "identity": identity, "module_sha256": digest, "engine": material,
                              "key": key})
    return digest, key


def _is_hex_digest(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and not value.strip("0123456789abcdef")


def _recall(dfd: int, memo: str, path: str, identity: list[int], material: dict[str, Any]) -> tuple[str, str] | None:
    """``(digest, key)`` from the memo ``memo`` in folder ``dfd`` if it may be trusted and still holds, else ``None``."""
    record = _read_memo(memo, dfd, trusted_only=True)
    if record is None or record.get("module") != path or record.get("identity") != identity:
        return None
    digest, key = record.get("module_sha256"), record.get("key")
    if record.get("engine") != material or not isinstance(digest, str) or not isinstance(key, str):
        return None
    return (digest, key) if _is_hex_digest(digest) and _is_hex_digest(key) else None


def _read_memo(memo: str | Path, dfd: int | None, *, trusted_only: bool) -> dict[str, Any] | None:
    """The record in memo file ``memo`` (relative to folder ``dfd``, if given), ``None`` when it is not one.

    Never follows a symlink; with ``trusted_only``, a file others could have
    written is not one either.
    """
    try:
        fd = os.open(memo, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dfd)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MEMO_MAX_BYTES or (trusted_only and unsafe_reason(st, "it")):
            return None
        record = json.loads(os.pread(fd, MEMO_MAX_BYTES, 0))
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    return record if isinstance(record, dict) else None


def _remember(dfd: int, memo: str, record: dict[str, Any]) -> None:
    """Write the memo ``memo`` in folder ``dfd`` whole (a rename), or not at all: it is only ever a shortcut."""
    temp = f"{memo[: -len(SUFFIX)]}.{os.urandom(6).hex()}{TEMP_SUFFIX}"
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dfd)
    except OSError:
        return
    try:
        try:
            os.write(fd, json.dumps(record, sort_keys=True).encode())
        finally:
            os.close(fd)
        os.rename(temp, memo, src_dir_fd=dfd, dst_dir_fd=dfd)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=dfd)


def memo_holds(path: Path) -> bool:
    """True when the memo file at ``path`` still describes its module file as it is; never raises.

    For ``cache prune``: a memo whose module is gone or changed is only dead
    weight (the runtime would never use it, and writes a new one when it may).
    """
    record = _read_memo(path, None, trusted_only=False)
    module = record.get("module") if record is not None else None
    if record is None or not isinstance(module, str):
        return False
    try:
        return file_identity(os.stat(module)) == record.get("identity")
    except (OSError, ValueError):
        return False


def _unreadable(name: str, source: Path, exc: OSError) -> ModuleLoadError:
    return ModuleLoadError(f"cannot read module {name!r} from {source}: {exc}")


def _read_unchanged(source: Path, digest: str) -> bytes | None:
    """The bytes of ``source`` if their digest is still ``digest``, else (or when unreadable) ``None``."""
    try:
        data = source.read_bytes()
    except OSError:
        return None
    return data if content_digest(data) == digest else None


def load_program(handle: EngineHandle, name: str, data: bytes, source: Path,
                 cache_dir: str | os.PathLike[str] | None = None) -> Loaded:
    """The program of module ``data`` (read from ``source``), from its artifact or compiled (and stored).

    Raises :class:`~sysinspect_wasm.errors.ModuleLoadError` for invalid
    bytes, like :func:`~.program.compile_module`; everything the cache itself
    meets (unwritable or untrusted folders, damaged artifacts) ends in a
    correct program and, where an operator should know, a warning.
    """
    folder, create, warning = cache_folder(source, cache_dir)
    warnings = [warning] if warning else []
    digest = content_digest(data)
    key = cache_key(digest, handle.settings.fingerprint())
    module_id = module_id_of(source)
    stem = f"{module_id}.{key[:KEY_CHARS]}"
    artifact = folder / (stem + SUFFIX)

    def uncached(reason: str) -> Loaded:
        program = _compile(handle, name, data, stem)
        warnings.append(f"{reason}: the module was compiled in memory and the next call compiles it again "
                        f"(set {CACHE_DIR_ENV} to a private, writable folder to cache it there)")
        return Loaded(program, UNCACHED, None, tuple(warnings))

    try:
        dfd = _open_folder(folder, create)
    except OSError as exc:
        return uncached(f"cannot use the compile cache folder {folder} ({exc.strerror or exc})")
    try:
        unsafe = unsafe_reason(os.fstat(dfd), "it")
        if unsafe:
            return uncached(f"not using the compile cache folder {folder}: {unsafe}")
        key_raw = bytes.fromhex(key)
        attempt = _try_load(handle, name, data, dfd, stem + SUFFIX, key_raw)
        if attempt.program is not None:
            _trace(LOADED, stem)
            return Loaded(attempt.program, LOADED, artifact, tuple(warnings))
        try:
            lock = _acquire(dfd, f".{stem}{LOCK_SUFFIX}", LOCK_WAIT_SECONDS, stem)
        except OSError as exc:
            if attempt.problem:
                warnings.append(f"did not load the compiled artifact {artifact}: {attempt.problem}")
            return uncached(f"cannot store the compiled module in {folder} ({exc.strerror or exc})")
        if lock is None:
            return uncached(f"another process held the compile lock for {artifact} longer than {LOCK_WAIT_SECONDS:g} s")
        try:
            again = _try_load(handle, name, data, dfd, stem + SUFFIX, key_raw)
            if again.program is not None:  # another process built it while this one waited
                _trace(LOADED, stem)
                return Loaded(again.program, LOADED, artifact, tuple(warnings))
            if again.problem:
                if again.untrusted:
                    warnings.append(f"refused to load the compiled artifact {artifact}: {again.problem}; "
                                    "it was compiled again and replaced")
                else:
                    warnings.append(f"the compiled artifact {artifact} was {again.problem}: "
                                    "it was removed and compiled again")
                    _unlink_artifact(dfd, stem + SUFFIX)
            program = _compile(handle, name, data, stem)
            manifest = {
                "format": FORMAT,
                "module": os.path.abspath(source),
                "module_id": module_id,
                "module_sha256": digest,
                "module_size": len(data),
                "key": key,
                "engine": handle.settings.material(),
                "guards": sorted(program.guards),
                "note": program.note,
                "layout": layout_facts(program.layout),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            try:
                _store(dfd, stem, key_raw, program, manifest)
            except OSError as exc:
                warnings.append(f"cannot store the compiled module in {folder} ({exc.strerror or exc}): "
                                "the next call compiles it again")
                return Loaded(program, UNCACHED, None, tuple(warnings))
            _remove_superseded(dfd, module_id, stem + SUFFIX, manifest)
            return Loaded(program, COMPILED, artifact, tuple(warnings))
        finally:
            _release(dfd, f".{stem}{LOCK_SUFFIX}", lock)
    finally:
        os.close(dfd)


def _compile(handle: EngineHandle, name: str, data: bytes, stem: str) -> Program:
    program = compile_module(handle, name, data)
    _trace(COMPILED, stem)
    return program


def _open_folder(folder: Path, create: bool) -> int:
    if create:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    return os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


_FD_ROOTS = ("/proc/self/fd", "/dev/fd")


def _deserialize(handle: EngineHandle, fd: int) -> wasmtime.Module:
    """The module in the artifact open (and checked) at ``fd``: wasmtime maps that very file, not a name.

    Where no ``/proc/self/fd`` or ``/dev/fd`` can reopen it, the checked
    bytes are read through the descriptor and copied in instead (slower).
    """
    for root in _FD_ROOTS:
        if os.path.isdir(root):
            return wasmtime.Module.deserialize_file(handle.engine, f"{root}/{fd}")
    return wasmtime.Module.deserialize(handle.engine, os.pread(fd, os.fstat(fd).st_size, 0))


def _try_load(handle: EngineHandle, name: str, data: bytes | Callable[[], bytes | None], dfd: int, artifact: str,
              key: bytes) -> _Attempt:
    """Load the artifact ``artifact`` in folder ``dfd`` if it is safe and intact; ``data``: see :func:`restore_program`."""
    opened = _open_artifact(dfd, artifact)
    if isinstance(opened, _Attempt):
        return opened
    fd, size = opened
    try:
        try:
            _, manifest, payload = verify(fd, size, key, dfd, artifact)
        except Untrusted as exc:
            return _Attempt(problem=str(exc), untrusted=True)
        except Damaged as exc:
            return _Attempt(problem=str(exc))
        return _restore(handle, name, data, fd, manifest, payload)
    finally:
        os.close(fd)


def _open_artifact(dfd: int, artifact: str) -> tuple[int, int] | _Attempt:
    """``(descriptor, size)`` of artifact ``artifact`` in folder ``dfd`` if it may be trusted, else why not."""
    try:
        fd = os.open(artifact, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dfd)
    except FileNotFoundError:
        return _Attempt()
    except OSError as exc:  # a symlink (ELOOP) among others
        return _Attempt(problem=f"it cannot be opened safely ({exc.strerror or exc})", untrusted=True)
    try:
        st = os.fstat(fd)
        problem = unsafe_reason(st, "it") if stat.S_ISREG(st.st_mode) else "it is not a regular file"
    except BaseException:
        os.close(fd)
        raise
    if problem:
        os.close(fd)
        return _Attempt(problem=problem, untrusted=True)
    return fd, st.st_size


def _restore(handle: EngineHandle, name: str, data: bytes | Callable[[], bytes | None], fd: int,
             manifest: dict[str, Any], payload: bytearray | None) -> _Attempt:
    """The program in the artifact open (and verified, with ``manifest``) at ``fd``, unless wasmtime refuses it.

    ``payload``: the checked native code of an artifact in parts, deserialized from memory.
    """
    try:
        module = _deserialize(handle, fd) if payload is None else wasmtime.Module.deserialize(handle.engine, payload)
    except wasmtime.WasmtimeError as exc:
        return _Attempt(problem=f"refused by wasmtime ({summary(str(exc))})")
    facts: LayoutFacts = manifest["layout"]
    return _Attempt(restore_program(handle, name, data, module, frozenset(manifest["guards"]), manifest["note"], facts))


def _acquire(dfd: int, name: str, wait: float, stem: str = "") -> int | None:
    """A descriptor holding the lock file ``name`` in folder ``dfd``, or ``None`` after ``wait`` seconds.

    Raises ``OSError`` when the lock file cannot be created. A holder unlinks
    the lock file before it lets go, so a lock only counts when the file it
    was taken on is still the one at ``name``. With a ``stem``, having to wait
    is traced.
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
            if stem and pause == 0.002:
                _trace(WAITING, stem)
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


def _release(dfd: int, name: str, fd: int) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name, dir_fd=dfd)
    os.close(fd)


def try_lock(dfd: int, name: str) -> int | None:
    """The lock file ``name`` in folder ``dfd`` if no one holds it now (see :func:`release_lock`); never waits."""
    try:
        return _acquire(dfd, name, 0.0)
    except OSError:
        return None


def release_lock(dfd: int, name: str, fd: int) -> None:
    """Remove and let go of a lock taken with :func:`try_lock`."""
    _release(dfd, name, fd)


def _size_limit() -> int | None:
    """The largest file this process may write (its soft ``RLIMIT_FSIZE``), ``None`` when unlimited."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else soft


def _write_whole(dfd: int, stem: str, name: str, chunks: tuple[bytes | bytearray | memoryview, ...]) -> None:
    """Write ``chunks`` to the file ``name`` in folder ``dfd`` through a temporary file, fsync'ed, renamed in place.

    The temporary file is named after the artifact's ``stem`` (whose lock the writer holds), so that ``cache
    prune`` sees it belongs to a compilation under way.
    """
    temp = f".{stem}.{os.urandom(6).hex()}{TEMP_SUFFIX}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dfd)
    try:
        try:
            for chunk in chunks:
                view = memoryview(chunk)
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


def _store(dfd: int, stem: str, key: bytes, program: Program, manifest: dict[str, Any]) -> None:
    payload = program.module.serialize()
    artifact = stem + SUFFIX
    limit = _size_limit()
    whole = len(payload) + FOOTER.size + len(json.dumps(manifest, sort_keys=True).encode())
    if limit is None or whole <= limit:
        meta = json.dumps(manifest, sort_keys=True).encode()
        checksum = zlib.crc32(meta, zlib.crc32(payload))
        _write_whole(dfd, stem, artifact, (payload, meta, FOOTER.pack(FORMAT, len(meta), len(payload), key, checksum, MAGIC)))
        _remove_parts(dfd, artifact, 0)
    else:
        # parts first, the artifact file last: a reader sees no artifact or a whole one
        size = min(limit, PART_BYTES_MAX)
        if -(-len(payload) // size) > MAX_PARTS:
            raise OSError(errno.EFBIG, f"the process may write files of at most {limit} bytes (RLIMIT_FSIZE), and "
                                       f"{len(payload)} bytes of native code would need more than {MAX_PARTS} parts")
        view = memoryview(payload)
        pieces = [view[at : at + size] for at in range(0, len(payload), size)]
        meta = json.dumps({**manifest, "parts": [len(piece) for piece in pieces]}, sort_keys=True).encode()
        checksum = zlib.crc32(meta, zlib.crc32(payload))
        try:
            for index, piece in enumerate(pieces):
                _write_whole(dfd, stem, part_name(artifact, index), (piece,))
            _write_whole(dfd, stem, artifact, (meta, FOOTER.pack(PARTED_FORMAT, len(meta), len(payload), key, checksum,
                                                                 MAGIC)))
        except BaseException:  # (this artifact did not load, or no one would be storing it: its parts are no loss)
            _remove_parts(dfd, artifact, 0)
            raise
        _remove_parts(dfd, artifact, len(pieces))
    with contextlib.suppress(OSError):  # not every file system can sync a folder
        os.fsync(dfd)


def _remove_parts(dfd: int, artifact: str, keep: int) -> None:
    """Remove the parts of ``artifact`` from number ``keep`` on (left by an earlier artifact of the same name)."""
    index = keep
    while True:
        try:
            os.unlink(part_name(artifact, index), dir_fd=dfd)
        except OSError:  # the first one missing ends the list
            return
        index += 1


def remove_parts(artifact: Path) -> list[Path]:
    """Remove the parts of the artifact at path ``artifact`` (for ``cache prune`` and ``clear``); the ones removed."""
    removed: list[Path] = []
    index = 0
    while True:
        part = artifact.with_name(part_name(artifact.name, index))
        try:
            part.unlink()
        except OSError:
            return removed
        removed.append(part)
        index += 1


def _unlink_artifact(dfd: int, artifact: str) -> None:
    """Remove the artifact ``artifact`` in folder ``dfd`` and its parts, if any."""
    with contextlib.suppress(OSError):
        os.unlink(artifact, dir_fd=dfd)
    _remove_parts(dfd, artifact, 0)


def engine_identity(material: dict[str, Any]) -> dict[str, Any]:
    """Engine material without the settings: what changes on an upgrade, not between two configured engines."""
    return {name: value for name, value in material.items() if name != "settings"}


def _remove_superseded(dfd: int, module_id: str, keep: str, manifest: dict[str, Any]) -> None:
    """Remove this module file's other artifacts that can never load again: other content, or an older engine.

    Artifacts of the same content for other engine settings stay (another
    configuration may still use them).
    """
    identity = engine_identity(manifest["engine"])
    with os.scandir(dfd) as entries:
        names = [entry.name for entry in entries]
    for name in names:
        parsed = parse_artifact_name(name)
        if name == keep or parsed is None or parsed[0] != module_id:
            continue
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dfd)
        except OSError:
            continue
        try:
            _, other = read_manifest(fd, os.fstat(fd).st_size)
        except (Damaged, OSError):
            continue
        finally:
            os.close(fd)
        if other.get("module") != manifest["module"]:
            continue
        engine = other.get("engine")
        if other.get("module_sha256") != manifest["module_sha256"] or (
                not isinstance(engine, dict) or engine_identity(engine) != identity):
            _unlink_artifact(dfd, name)


def _trace(event: str, stem: str) -> None:
    path = os.environ.get(TRACE_ENV)
    if not path:
        return
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, f"{event} {stem} pid={os.getpid()}\n".encode())
        finally:
            os.close(fd)
