"""The reference backend's module cache: decode a module in full once, then only what a run calls.

pywasm decodes a binary byte by byte, every function body into instruction
objects: 4 s of CPU for a 4.4 MB standard-Go module, of which a run calls a
few hundred of its 2462 functions. The first load of a module decodes it in
full with pywasm, exactly as an uncached load does (every error, every
check), and then stores an artifact that says so: an index of where each
function body lies in the module. Later loads of the same content decode
every section but the code with pywasm, and each function body, again with
pywasm (``FuncDesc.from_reader_code`` on the very bytes the full decode read
it from), the first time it is called. The objects are pywasm's own, built
by pywasm's own decoder from the same bytes; only the moment they are built changes.

Why an index, not a pickle of the decoded module: the decoded form is a
tree of some 1.6 M objects, nested as deep as Go's blocks (pickle stops on
the recursion limit), and loading it back would cost about as much as
decoding; an index of body offsets is a few KB and loads in microseconds.

The artifact is ``<id>.<key>.pywasm.cwasm`` in the folder the native cache
would use (:func:`sysinspect_wasm.store.layout.cache_folder`: beside the
module, the configured folder, or an unprivileged user's private one), under
the rules of :mod:`sysinspect_wasm.store` (the native cache's): keyed by the
SHA-256 of the module's bytes and of the interpreter's fingerprint
(:data:`.loader.ENGINE_KEY`: pywasm's sources and our rewriter's), read only
when trusted and intact, written atomically, never past 10 MiB
(:data:`~sysinspect_wasm.store.fileformat.MAX_FILE_BYTES`; an index is a few
KB). A damaged or untrusted artifact is ignored (with a warning),
the module decoded in full, and the artifact written again; storing one
removes the same module file's artifacts of other content. Writers take no
lock: a process without an artifact has to decode the module anyway, so
waiting for another one would save it nothing, and the rename lets exactly
one whole file win.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import struct
import time
from pathlib import Path
from typing import Any

from sysinspect_wasm.records import FrozenRecord
from sysinspect_wasm.store import COMPILED, LOADED, UNCACHED, Damaged, TooLarge, Untrusted, trace
from sysinspect_wasm.store.fileformat import MAX_FILE_BYTES, Formats, unpack
from sysinspect_wasm.store.key import cache_key, module_id_of, sha256_hex
from sysinspect_wasm.store.layout import CACHE_DIR_ENV, cache_folder, file_name
from sysinspect_wasm.store.trust import open_folder, read_trusted

from .loader import ENGINE, ENGINE_KEY

KIND = ".pywasm"
"""Artifact names end ``.pywasm.cwasm``: the native cache's ``<id>.<key>.cwasm`` never matches them."""
FORMAT = 1
FINGERPRINT = f"{ENGINE_KEY}:lazy-bodies-{FORMAT}"
HEADER = 8
"""Bytes of the magic number and version that open every module."""


class Decoded(FrozenRecord):
    """A decoded module, how it was obtained, its artifact and warnings.

    ``status`` is :data:`~sysinspect_wasm.store.LOADED` (from its artifact),
    :data:`~sysinspect_wasm.store.COMPILED` (decoded in full and stored: the
    native cache's word, for ``precompile``) or
    :data:`~sysinspect_wasm.store.UNCACHED`.
    """

    __match_args__ = ("desc", "status", "artifact", "warnings")
    desc: Any
    status: str
    artifact: Path | None
    warnings: tuple[str, ...]

    def __init__(self, desc: Any, status: str, artifact: Path | None = None, warnings: tuple[str, ...] = ()) -> None:
        self.__dict__.update(desc=desc, status=status, artifact=artifact, warnings=warnings)


FuncDesc: Any = ENGINE.core.FuncDesc


class LazyBody(FuncDesc):  # type: ignore[misc]
    """A function whose ``locals`` and ``expr`` pywasm decodes from ``source[start:end]`` on first use.

    Until then the two attributes do not exist, so the first read lands in
    :meth:`__getattr__`, which sets both; every later read is a plain one.
    """

    def __init__(self, type: int, source: bytes, start: int, end: int) -> None:
        self.type = type
        self._body = (source, start, end)

    def __getattr__(self, name: str) -> Any:
        if name not in ("locals", "expr"):
            raise AttributeError(name)
        source, start, end = self.__dict__["_body"]
        decoded = FuncDesc.from_reader_code(io.BytesIO(source[start:end]))
        self.locals = decoded.locals
        self.expr = decoded.expr
        return self.__dict__[name]


def code_index(data: bytes) -> list[int] | None:
    """``[code section start, end, body 0 start, end, body 1 start, ...]`` of a module pywasm decoded in full.

    ``None`` when the module has no single code section whose bodies lie
    within it (such a module is simply not cached). Read with the core's
    binary reader, imported here: only a load that stores an artifact needs it.
    """
    from sysinspect_wasm.wasmbinary import SECTION_CODE, DecodeError, read_sections, read_u

    try:
        code = [section for section in read_sections(data) if section.id == SECTION_CODE]
        if len(code) != 1:
            return None
        found = [code[0].start, code[0].end]
        count, at = read_u(data, code[0].payload_start)
        for _ in range(count):
            length, at = read_u(data, at)
            if at + length > code[0].end:
                return None
            found += [at, at + length]
            at += length
    except DecodeError:
        return None
    return found


def decode_lazily(data: bytes, index: list[int]) -> Any:
    """The module ``data`` decoded by pywasm but for its function bodies, which :class:`LazyBody` decodes when used."""
    section_start, section_end = index[0], index[1]
    desc = ENGINE.core.ModuleDesc.from_reader(io.BytesIO(data[:section_start] + data[section_end:]))
    bodies = index[2:]
    for number in range(len(bodies) // 2):
        desc.func[number] = LazyBody(desc.func[number].type, data, bodies[2 * number], bodies[2 * number + 1])
    return desc


def module_key(digest: str) -> str:
    """The artifact key of module content ``digest`` under this interpreter."""
    return cache_key(digest, FINGERPRINT)


def _read_index(payload: bytes, size: int) -> list[int] | None:
    if len(payload) % 8 or len(payload) < 8:
        return None
    index = list(struct.unpack(f"<{len(payload) // 8}Q", payload))
    ordered = all(a <= b for a, b in itertools.pairwise(index[2:]))
    if len(index) % 2 or not HEADER <= index[0] < index[1] <= size or not ordered \
            or any(not index[0] < i <= index[1] for i in index[2:]):
        return None
    return index


def load(source: Path, data: bytes, full_decode: Any, cache_dir: str | os.PathLike[str] | None = None) -> Decoded:
    """Module ``data`` (read from ``source``): from its artifact, or by ``full_decode(data)`` and then stored.

    ``full_decode`` is the uncached load, checks included; whatever it raises
    propagates. Everything the cache itself meets (an unusable folder, a
    damaged or untrusted artifact, a file that cannot be written) ends in a
    correctly decoded module and, where an operator should know, a warning.
    """
    folder, create, warning = cache_folder(source, cache_dir)
    warnings = [warning] if warning else []
    digest = sha256_hex(data)
    key = module_key(digest)
    module_id = module_id_of(source)
    name = file_name(module_id, key, KIND)

    def uncached(reason: str) -> Decoded:
        warnings.append(f"{reason}: the module was decoded in full and the next call decodes it again "
                        f"(set {CACHE_DIR_ENV} to a private, writable folder to cache it there)")
        return Decoded(full_decode(data), UNCACHED, None, tuple(warnings))

    try:
        dfd = open_folder(folder, create)
    except OSError as exc:
        return uncached(f"not using the cache folder {folder} ({exc.strerror or exc})")
    except Untrusted as exc:
        return uncached(f"not using the cache folder {folder} ({exc})")
    try:
        try:
            raw = read_trusted(dfd, name, MAX_FILE_BYTES)
            if raw is not None:
                payload, manifest, _ = unpack(raw, key, FORMAT)
                index = _read_index(payload, len(data))
                if index is None or manifest.get("module_sha256") != digest:
                    raise Damaged("garbled (its index does not fit the module)")
                desc = decode_lazily(data, index)
                trace(LOADED, name)
                return Decoded(desc, LOADED, folder / name, tuple(warnings))
        except Untrusted as exc:
            warnings.append(f"refused to load the decoded module {folder / name}: {exc}; it was decoded again and replaced")
        except Damaged as exc:
            warnings.append(f"the decoded module {folder / name} was {exc}: it was removed and decoded again")
        desc = full_decode(data)
        trace(COMPILED, name)
        index = code_index(data)
        if index is None:
            return Decoded(desc, UNCACHED, None, tuple(warnings))
        manifest = {"format": FORMAT, "module": os.path.abspath(source), "module_id": module_id,
                    "module_sha256": digest, "module_size": len(data), "key": key, "engine": ENGINE_KEY,
                    "functions": (len(index) - 2) // 2, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        from sysinspect_wasm.store.concurrency import remove_superseded, write_artifact

        with contextlib.suppress(FileNotFoundError, PermissionError, IsADirectoryError):
            os.unlink(name, dir_fd=dfd)  # a damaged or foreign one: the rename below must not be refused
        try:
            write_artifact(dfd, name, struct.pack(f"<{len(index)}Q", *index), manifest,
                           key, Formats(FORMAT), cap=MAX_FILE_BYTES)
        except (OSError, TooLarge) as exc:
            warnings.append(f"cannot store the decoded module in {folder} ({exc}): the next call decodes it again")
            return Decoded(desc, UNCACHED, None, tuple(warnings))
        # built from other content or by another interpreter: never to load again (as the native cache does)
        remove_superseded(dfd, name, KIND, Formats(FORMAT), manifest["module"], lambda other: True)
        return Decoded(desc, COMPILED, folder / name, tuple(warnings))
    finally:
        os.close(dfd)
