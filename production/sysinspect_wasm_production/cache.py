"""The compiled-artifact cache: compile a module once per node, never load stale, torn or foreign native code.

The rules every cache file follows are the core's (:mod:`sysinspect_wasm.store`):
its key (:mod:`~sysinspect_wasm.store.key`), the remembered module digests
(:mod:`~sysinspect_wasm.store.memo`), its name and folder
(:mod:`~sysinspect_wasm.store.layout`: ``<id>.<16 hex>.cwasm`` beside the
module, in the configured folder, or in an unprivileged user's private
``/var/tmp/sysinspect-wasm-<uid>``), its footer and parts
(:mod:`~sysinspect_wasm.store.fileformat`), who may have written it
(:mod:`~sysinspect_wasm.store.trust`) and how it is written and locked
(:mod:`~sysinspect_wasm.store.concurrency`). This module holds what is
wasmtime's:

Key. The engine fingerprint is
:meth:`~.engine.EngineSettings.fingerprint`: engine settings, wasmtime
version, target, rewriter version.

Payload and manifest. The payload is wasmtime's serialized module (an ELF
object); the manifest (:func:`check_manifest`) records module, content
digest, engine material, memory.grow guards, rewriter note and the layout
facts a run needs (:data:`~.program.LayoutFacts`). Format
:data:`FORMAT` keeps the payload in the file, :data:`PARTED_FORMAT` in part
files (when it would pass the process's ``RLIMIT_FSIZE``: a standard-Go
module's native code passes a root minion's 10 MiB); no more than
:data:`~sysinspect_wasm.store.fileformat.MAX_PARTS` parts, else the module
runs uncached with a warning.

Loading. wasmtime finds an ELF object's parts through its headers and
ignores bytes after them, so a whole artifact, once checked, goes to
``Module.deserialize_file`` as it is, through ``/proc/self/fd``: wasmtime
maps the very file that was checked instead of copying it (measured on a
10 MB artifact: 0.1 ms against 20 ms for deserializing from bytes), and
checks its own version and settings once more. The parts of a parted one
are deserialized from the checked bytes in memory. A damaged or foreign
artifact is removed and rebuilt; one others could have written is not
loaded but replaced, with a warning; a folder others can write is not used
at all (the module is compiled in memory, with a warning). A warm call
(:func:`load_program_file`) takes the key from the memo and never holds the
module's bytes: a restored program reads them only when something asks for
its layout, and only if the content is still the one it was built from.

Writing. Under the artifact's lock (N cold processes compile once), after
looking again; storing one removes the same module file's artifacts that can
never load again (other content, an older engine).
"""

from __future__ import annotations

import os
import time

from sysinspect_wasm.errors import ModuleLoadError
from sysinspect_wasm.paths import join, read_bytes
from sysinspect_wasm.records import FrozenRecord
from sysinspect_wasm.store import COMPILED, LOADED, UNCACHED, WAITING, Damaged, TooLarge, Untrusted, trace
from sysinspect_wasm.store.fileformat import Formats, verify
from sysinspect_wasm.store.key import cache_key, module_id_of, sha256_hex
from sysinspect_wasm.store.layout import CACHE_DIR_ENV, cache_folder, cache_folder_name, file_name, lock_name, stem_of
from sysinspect_wasm.store.memo import content_key
from sysinspect_wasm.store.trust import open_folder, open_trusted

from . import native
from .program import Program, compile_module, layout_facts, restore_program, valid_facts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

    from .engine import EngineHandle
    from .program import LayoutFacts

FORMAT = 2
"""Version of the artifact format; 2 added the layout facts to the manifest."""
PARTED_FORMAT = 3
"""The same artifact with its native code in part files (see the module's docstring)."""
FORMATS = Formats(FORMAT, PARTED_FORMAT)
LOCK_WAIT_SECONDS = 600.0
"""How long to wait for another process compiling the same module before compiling in memory."""


class Loaded(FrozenRecord):
    """A program and how it was obtained.

    ``status`` is :data:`~sysinspect_wasm.store.LOADED` (from an artifact),
    :data:`~sysinspect_wasm.store.COMPILED` (compiled and stored) or
    :data:`~sysinspect_wasm.store.UNCACHED` (compiled, not stored: the
    warnings say why). ``artifact`` is the artifact's path, if there is one
    (a string on a warm load: :mod:`sysinspect_wasm.paths`).
    """

    __match_args__ = ("program", "status", "artifact", "warnings")
    program: Program
    status: str
    artifact: Path | str | None
    warnings: tuple[str, ...]

    def __init__(self, program: Program, status: str, artifact: Path | str | None = None,
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


def check_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """``manifest`` once it has what restoring a program needs; raises :class:`~sysinspect_wasm.store.Damaged`."""
    guards, note = manifest.get("guards"), manifest.get("note")
    if not isinstance(guards, list) or not all(type(g) is int for g in guards) or not isinstance(note, str):
        raise Damaged("garbled (manifest without guards or note)")
    if not valid_facts(manifest.get("layout")):
        raise Damaged("garbled (manifest without layout facts)")
    return manifest


def verify_artifact(fd: int, size: int, key: bytes | None, dfd: int | None = None,
                    artifact: str = "") -> tuple[bytes, dict[str, Any], bytearray | None]:
    """:func:`~sysinspect_wasm.store.fileformat.verify` in this cache's formats, with :func:`check_manifest`."""
    found, manifest, payload = verify(fd, size, key, FORMATS, dfd, artifact)
    return found, check_manifest(manifest), payload


# -- loading ------------------------------------------------------------------


def load_program_file(handle: EngineHandle, name: str, source: str | Path,
                      cache_dir: str | os.PathLike[str] | None = None) -> Loaded:
    """The program of the module file ``source``: :func:`load_program` of its bytes, warm calls made cheap.

    The module's content key comes from
    :func:`~sysinspect_wasm.store.memo.content_key`: remembered, or read
    through a small buffer. When its artifact loads, the module's bytes are
    never held in memory at all. Anything else (no artifact yet, a damaged
    one, an unusable folder) reads the module and goes the way of
    :func:`load_program`, warnings and all. Raises
    :class:`~sysinspect_wasm.errors.ModuleLoadError` when the module cannot
    be read, or is not valid.
    """
    folder, _, warning = cache_folder_name(source, cache_dir)
    try:
        dfd = open_folder(folder, create=False)
    except (OSError, Untrusted):
        dfd = -1
    try:
        if dfd >= 0:
            settings = handle.settings
            try:
                digest, key = content_key(source, dfd, settings.material(), settings.fingerprint)
            except OSError as exc:
                raise _unreadable(name, source, exc) from None
            module_id = module_id_of(source)
            artifact = file_name(module_id, key)

            def reader() -> bytes | None:
                return _read_unchanged(source, digest)

            attempt = _try_load(handle, name, reader, dfd, artifact, bytes.fromhex(key))
            if attempt.program is not None:
                trace(LOADED, stem_of(module_id, key))
                return Loaded(attempt.program, LOADED, join(folder, artifact), (warning,) if warning else ())
    finally:
        if dfd >= 0:
            os.close(dfd)
    try:
        data = read_bytes(source)
    except OSError as exc:
        raise _unreadable(name, source, exc) from None
    return load_program(handle, name, data, source, cache_dir)


def _unreadable(name: str, source: str | Path, exc: OSError) -> ModuleLoadError:
    return ModuleLoadError(f"cannot read module {name!r} from {source}: {exc}")


def _read_unchanged(source: str | Path, digest: str) -> bytes | None:
    """The bytes of ``source`` if their digest is still ``digest``, else (or when unreadable) ``None``."""
    try:
        data = read_bytes(source)
    except OSError:
        return None
    return data if sha256_hex(data) == digest else None


def load_program(handle: EngineHandle, name: str, data: bytes, source: str | Path,
                 cache_dir: str | os.PathLike[str] | None = None) -> Loaded:
    """The program of module ``data`` (read from ``source``), from its artifact or compiled (and stored).

    Raises :class:`~sysinspect_wasm.errors.ModuleLoadError` for invalid
    bytes, like :func:`~.program.compile_module`; everything the cache itself
    meets (unwritable or untrusted folders, damaged artifacts) ends in a
    correct program and, where an operator should know, a warning.
    """
    from sysinspect_wasm.store import concurrency

    folder, create, warning = cache_folder(source, cache_dir)
    warnings = [warning] if warning else []
    digest = sha256_hex(data)
    key = cache_key(digest, handle.settings.fingerprint())
    module_id = module_id_of(source)
    stem = stem_of(module_id, key)
    name_on_disk = file_name(module_id, key)
    artifact = folder / name_on_disk

    def uncached(reason: str) -> Loaded:
        program = _compile(handle, name, data, stem)
        warnings.append(f"{reason}: the module was compiled in memory and the next call compiles it again "
                        f"(set {CACHE_DIR_ENV} to a private, writable folder to cache it there)")
        return Loaded(program, UNCACHED, None, tuple(warnings))

    try:
        dfd = open_folder(folder, create)
    except OSError as exc:
        return uncached(f"cannot use the compile cache folder {folder} ({exc.strerror or exc})")
    except Untrusted as exc:
        return uncached(f"not using the compile cache folder {folder}: {exc}")
    try:
        key_raw = bytes.fromhex(key)
        attempt = _try_load(handle, name, data, dfd, name_on_disk, key_raw)
        if attempt.program is not None:
            trace(LOADED, stem)
            return Loaded(attempt.program, LOADED, artifact, tuple(warnings))
        lock = lock_name(stem)
        try:
            held = concurrency.acquire(dfd, lock, LOCK_WAIT_SECONDS, lambda: trace(WAITING, stem))
        except OSError as exc:
            if attempt.problem:
                warnings.append(f"did not load the compiled artifact {artifact}: {attempt.problem}")
            return uncached(f"cannot store the compiled module in {folder} ({exc.strerror or exc})")
        if held is None:
            return uncached(f"another process held the compile lock for {artifact} longer than {LOCK_WAIT_SECONDS:g} s")
        try:
            again = _try_load(handle, name, data, dfd, name_on_disk, key_raw)
            if again.program is not None:  # another process built it while this one waited
                trace(LOADED, stem)
                return Loaded(again.program, LOADED, artifact, tuple(warnings))
            if again.problem:
                if again.untrusted:
                    warnings.append(f"refused to load the compiled artifact {artifact}: {again.problem}; "
                                    "it was compiled again and replaced")
                else:
                    warnings.append(f"the compiled artifact {artifact} was {again.problem}: "
                                    "it was removed and compiled again")
                    concurrency.unlink_artifact(dfd, name_on_disk)
            program = _compile(handle, name, data, stem)
            material = handle.settings.material()
            manifest = {
                "format": FORMAT,
                "module": os.path.abspath(source),
                "module_id": module_id,
                "module_sha256": digest,
                "module_size": len(data),
                "key": key,
                "engine": material,
                "guards": sorted(program.guards),
                "note": program.note,
                "layout": layout_facts(program.layout),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            try:
                concurrency.write_artifact(dfd, name_on_disk, program.module.serialize(), manifest, key, FORMATS)
            except (OSError, TooLarge) as exc:
                reason = exc.strerror or exc if isinstance(exc, OSError) else exc
                warnings.append(f"cannot store the compiled module in {folder} ({reason}): "
                                "the next call compiles it again")
                return Loaded(program, UNCACHED, None, tuple(warnings))
            identity = engine_identity(material)
            # other content, or an older engine, can never load again; other settings of this engine may
            concurrency.remove_superseded(dfd, name_on_disk, "", FORMATS, os.path.abspath(source), lambda other: (
                other.get("module_sha256") != digest or not isinstance(other.get("engine"), dict)
                or engine_identity(other["engine"]) != identity))
            return Loaded(program, COMPILED, artifact, tuple(warnings))
        finally:
            concurrency.release(dfd, lock, held)
    finally:
        os.close(dfd)


def _compile(handle: EngineHandle, name: str, data: bytes, stem: str) -> Program:
    program = compile_module(handle, name, data)
    trace(COMPILED, stem)
    return program


_FD_ROOTS = ("/proc/self/fd", "/dev/fd")


def _deserialize(handle: EngineHandle, fd: int) -> native.NativeModule:
    """The module in the artifact open (and checked) at ``fd``: wasmtime maps that very file, not a name.

    Where no ``/proc/self/fd`` or ``/dev/fd`` can reopen it, the checked
    bytes are read through the descriptor and copied in instead (slower).
    """
    for root in _FD_ROOTS:
        if os.path.isdir(root):
            return native.deserialize_file(handle.native, f"{root}/{fd}")
    return native.deserialize(handle.native, os.pread(fd, os.fstat(fd).st_size, 0))


def _try_load(handle: EngineHandle, name: str, data: bytes | Callable[[], bytes | None], dfd: int, artifact: str,
              key: bytes) -> _Attempt:
    """Load the artifact ``artifact`` in folder ``dfd`` if it is safe and intact; ``data``: see :func:`restore_program`."""
    try:
        opened = open_trusted(dfd, artifact)
    except Untrusted as exc:
        return _Attempt(problem=str(exc), untrusted=True)
    if opened is None:
        return _Attempt()
    fd, st = opened
    try:
        try:
            _, manifest, payload = verify_artifact(fd, st.st_size, key, dfd, artifact)
        except Untrusted as exc:
            return _Attempt(problem=str(exc), untrusted=True)
        except Damaged as exc:
            return _Attempt(problem=str(exc))
        return _restore(handle, name, data, fd, manifest, payload)
    finally:
        os.close(fd)


def _restore(handle: EngineHandle, name: str, data: bytes | Callable[[], bytes | None], fd: int,
             manifest: dict[str, Any], payload: bytearray | None) -> _Attempt:
    """The program in the artifact open (and verified, with ``manifest``) at ``fd``, unless wasmtime refuses it.

    ``payload``: the checked native code of an artifact in parts, deserialized from memory.
    """
    try:
        module = _deserialize(handle, fd) if payload is None else native.deserialize(handle.native, payload)
    except native.WasmtimeError as exc:
        from .traps import summary

        return _Attempt(problem=f"refused by wasmtime ({summary(str(exc))})")
    facts: LayoutFacts = manifest["layout"]
    return _Attempt(restore_program(handle, name, data, module, frozenset(manifest["guards"]), manifest["note"], facts))


def engine_identity(material: dict[str, Any]) -> dict[str, Any]:
    """Engine material without the settings: what changes on an upgrade, not between two configured engines."""
    return {name: value for name, value in material.items() if name != "settings"}
