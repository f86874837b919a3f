"""The runtime's on-disk caches, the rules both backends follow: one module per concept.

Both backends keep per-module files on disk: the wasmtime backend its
compiled native code (``<id>.<key>.cwasm``, :mod:`sysinspect_wasm_production.cache`),
the pywasm backend an index of its decoded module (``<id>.<key>.pywasm.cwasm``,
:mod:`sysinspect_wasm_reference.cache`) and its compiled interpreter. What
such a file is, where it lives, when it may be read and how it is written is
the same for both, and is written once, here:

- :mod:`.key`: the key of a file, the SHA-256 of the module's content digest
  and the engine's fingerprint, so a changed module or engine never opens an
  old file; streaming digests of module files.
- :mod:`.memo`: a module file's digest remembered by its identity (inode,
  size, mtime, ctime), so a warm call need not read and hash the module.
- :mod:`.layout`: names (everything ends in ``.cwasm``) and folders: beside
  the module, a configured folder, or the user's private one.
- :mod:`.fileformat`: payload, JSON manifest, fixed footer (format, lengths,
  key, CRC-32, magic), whole or with the payload in part files; what does not
  hold is :class:`Damaged`.
- :mod:`.trust`: a file is read only when it is a regular file owned by the
  runtime's user or root, writable by no one else, in a folder passing the
  same test, opened without following symlinks; else :class:`Untrusted`.
- :mod:`.concurrency`: atomic writes (temporary file, fsync, rename),
  the write lock that lets N cold processes compile once, and the process's
  file-size limit (``RLIMIT_FSIZE``), past which a file is split or not written.
- :mod:`.maintenance`: what ``cache list|prune|clear`` needs, the artifact
  states above all (:class:`~.maintenance.State`). A warm call never imports
  it (``tests/data/warm-call-imports.txt`` is the list of what it imports).

This module holds what they all share: the words a load answers with and
traces (:data:`LOADED` ...), the trace itself, and the errors.
"""

from __future__ import annotations

import os

from ..errors import WasmRuntimeError

# How a load obtained what it returns (a backend's ``cache_status``), and the
# events :func:`trace` records.
LOADED = "loaded"
"""Taken from its cache file."""
COMPILED = "compiled"
"""Made (compiled, or decoded in full) and stored."""
UNCACHED = "uncached"
"""Made and not stored; the load's warnings say why."""
OFF = "off"
"""No cache was asked for (bytes rather than a module file, or the cache turned off)."""
WAITING = "waiting"
"""Trace only: the process waited for another one that holds the write lock."""
HASHED = "hashed"
"""Trace only: the module file was read to learn its digest (no memo held)."""

TRACE_ENV = "SYSINSPECT_WASM_CACHE_TRACE"
"""A file path: the caches append a line per event (``<event> <stem> pid=<pid>``), for tests and diagnosis."""


class Damaged(WasmRuntimeError):
    """A cache file that fails its own checks: truncated, garbled, built for another key or format, or refused
    by the engine that reads it."""


class Untrusted(Damaged):
    """A cache file or folder that others could have written (see :mod:`.trust`): never read, only replaced."""


class TooLarge(WasmRuntimeError):
    """A cache file larger than the process may write; nothing is written."""


def trace(event: str, stem: str) -> None:
    """Append ``event`` about ``stem`` to the file :data:`TRACE_ENV` names, if any; never raises."""
    path = os.environ.get(TRACE_ENV)
    if not path:
        return
    try:  # not contextlib.suppress: every warm call traces, and contextlib stays unloaded
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, f"{event} {stem} pid={os.getpid()}\n".encode())
        finally:
            os.close(fd)
    except OSError:
        return
