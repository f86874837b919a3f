"""Key: what names a cache file's content, so that a changed module or engine never opens an old one.

A key is the SHA-256 of the module's content digest and the engine's
fingerprint (:func:`cache_key`); the fingerprint is the backend's (the
wasmtime backend's engine settings, version, target and rewriter; the pywasm
backend's interpreter sources). The first 16 hex digits of the key go into
the file's name, the whole key into its footer.
"""

from __future__ import annotations

import os

from ..paths import name as path_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from _hashlib import HASH
    from collections.abc import Iterator

READ_CHUNK = 256 * 1024
"""Bytes per read when hashing a module or checking a cache file: a small buffer, reused, costs less than one
of the file's size (fresh memory costs as much as the hashing) and, unlike a mapping, cannot turn a file
truncated meanwhile into SIGBUS."""
MODULE_SUFFIX = ".wasm"


def sha256(data: bytes = b"") -> HASH:
    """A SHA-256 hash object of ``data`` (as ``hashlib.sha256``).

    OpenSSL's, imported on first use: loading OpenSSL costs about 2 ms, and
    a warm call whose module digest is remembered (:mod:`.memo`) hashes
    nothing at all. Not module ``hashlib``, whose import sets up every other
    algorithm too.
    """
    try:
        from _hashlib import openssl_sha256 as implementation
    except ImportError:  # pragma: no cover - a Python built without OpenSSL
        from hashlib import sha256 as implementation
    return implementation(data)


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data``, in hex: a module's content digest."""
    return sha256(data).hexdigest()


def cache_key(digest: str, fingerprint: str) -> str:
    """The key of content ``digest`` under the engine with ``fingerprint``, in hex."""
    return sha256(f"{digest}:{fingerprint}".encode()).hexdigest()


def chunks(fd: int, length: int | None) -> Iterator[memoryview]:
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


def fd_digest(fd: int) -> str:
    """The SHA-256 of the file open at ``fd``, in hex, read through :func:`chunks`."""
    digest = sha256()
    for chunk in chunks(fd, None):
        digest.update(chunk)
    return digest.hexdigest()


def file_digest(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of the file at ``path``, in hex (as :func:`sha256_hex` of its bytes); raises ``OSError``."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        return fd_digest(fd)
    finally:
        os.close(fd)


def is_hex_digest(value: object) -> bool:
    """True for 64 lower-case hex digits: a SHA-256 as this package writes it."""
    return isinstance(value, str) and len(value) == 64 and not value.strip("0123456789abcdef")


def module_id_of(source: str | os.PathLike[str]) -> str:
    """The module id of a module file: its name without ``.wasm``; cache files are named after it."""
    name = path_name(source)
    return name[: -len(MODULE_SUFFIX)] if name.endswith(MODULE_SUFFIX) and name != MODULE_SUFFIX else name
