"""The warm image: the code of every module a warm call imports, in one file of the uid's private folder.

Importing a module the ordinary way costs more than running its body: the
path finder looks for it on each folder of the path, the loader works out
where its bytecode is, reads the source's status, opens and reads the
bytecode, checks its header (for the tree's hash-checked bytecode: reads the
source and hashes it) and unmarshals it. For the forty-odd modules of a warm
call (:data:`.warmpath.WARM_MODULES`) that is about
1 ms on Python 3.11 and 2 ms on the slower 3.12 and 3.13 builds.

The image holds their code objects, made by this interpreter, with each
source's size and mtime. :func:`use_image` reads it in one go and, when every
source is still as recorded, puts an :class:`ImageFinder` first on
``sys.meta_path``: each listed module is then made from its code at once,
with the same ``__file__``, ``__spec__`` and loader (a ``SourceFileLoader``,
so package resources read as before) as an ordinary import gives it. When a
source has changed (a sync writes every file anew) or the image is missing,
it is made again from the modules' bytecode, before the call goes on.

Trust: the image is code this uid runs, so it lives in the private folder
that ``boot.bytecode_folder`` has checked, is written by this uid only
(created 0600, replaced atomically) and is read only if it still is a
regular file of this uid that no one else can write. Anything wrong with it
(unreadable, another format or interpreter, a file that does not unmarshal)
makes it be ignored and made again, never trusted halfway: the image only
saves time, the ordinary import is always there behind it.
"""

from __future__ import annotations

import gc
import marshal
import os
import stat
import sys
from _frozen_importlib import ModuleSpec
from _frozen_importlib_external import MAGIC_NUMBER, SourceFileLoader

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import CodeType, ModuleType

IMAGE_FORMAT = 1
"""Changes when what the image holds changes; an image of another format is made again."""
MAX_IMAGE_BYTES = 16 * 1024 * 1024
"""A real image is well under 1 MiB; a bigger file is not read."""
LAUNCHER_MODULES = ("sysinspect_wasm_launcher.start", "sysinspect_wasm.clibrary")
"""Modules the start-up itself imports once the image is in place (:mod:`.start`, and which C library)."""

Entry = tuple[bool, str, "CodeType"]
"""What the finder serves a module from: is it a package, its source's path, its code."""


def _code_type() -> type[CodeType]:
    """``types.CodeType``, without importing ``types`` (a warm call need not)."""
    return type(_code_type.__code__)


def image_path(folder: str, here: str) -> str:
    """Where the image of the tree at ``here`` for this interpreter is kept in the private folder ``folder``: below
    the tree's absolute path, as ``sys.pycache_prefix`` lays out bytecode (one image per tree and interpreter)."""
    return os.path.join(folder, here.lstrip(os.sep), f"warm.{sys.implementation.cache_tag}.img")


READ = "read"
MADE = "made"
NOT_KEPT = "made, not kept (the private folder cannot take it)"
NOT_MADE = "not made (a module it must hold cannot be found or compiled): ordinary imports"
"""What :func:`use_image` did, as ``wasm-runtime engines`` reports it."""


def use_image(here: str, folder: str) -> str:
    """Serve the warm modules of the tree at ``here`` from their image in ``folder``, made first if it is missing
    or stale; without a usable image (a failure while making it), imports stay as they are. Says which of
    :data:`READ`, :data:`MADE`, :data:`NOT_KEPT`, :data:`NOT_MADE` happened."""
    path = image_path(folder, here)
    # unmarshalling the image makes tens of thousands of objects that live until the process ends: the cyclic
    # collector would scan them again and again for nothing (0.1 to 0.4 ms); it is on again for what follows
    # (protocol mode turns it off itself, a developer command keeps it)
    enabled = gc.isenabled()
    gc.disable()
    try:
        entries, what = read_image(path, here, os.geteuid()), READ
        if entries is None:
            entries, kept = make_image(path, here)
            what = NOT_MADE if entries is None else MADE if kept else NOT_KEPT
    finally:
        if enabled:
            gc.enable()
    if entries:
        sys.meta_path.insert(0, ImageFinder(entries))
    return what


class ImageLoader(SourceFileLoader):
    """The ordinary loader of a source file, whose code comes from the image instead of its bytecode file."""

    def __init__(self, fullname: str, path: str, code: CodeType) -> None:
        super().__init__(fullname, path)
        self._code = code

    def get_code(self, fullname: str) -> CodeType:
        return self._code


class ImageFinder:
    """First on ``sys.meta_path``: a module of the image is found there, every other one where it always was.

    Each module is served once: a module imported again after it was removed
    from ``sys.modules`` (``importlib.reload``) is read from its files, as it
    would have been without the image.
    """

    def __init__(self, entries: dict[str, Entry]) -> None:
        self._entries = entries

    def find_spec(self, fullname: str, path: object = None, target: ModuleType | None = None) -> ModuleSpec | None:
        entry = self._entries.pop(fullname, None)
        if entry is None:
            return None
        package, source, code = entry
        spec = ModuleSpec(fullname, ImageLoader(fullname, source, code), origin=source, is_package=package)
        spec.has_location = True  # __file__ is the source's path, as the ordinary import sets it
        if package:
            spec.submodule_search_locations = [os.path.dirname(source)]
        return spec

    def invalidate_caches(self) -> None:
        """Nothing to forget: the image is checked once, at start-up."""


def read_image(path: str, here: str, uid: int) -> dict[str, Entry] | None:
    """The image at ``path`` of the tree at ``here``, as the finder serves it; None when there is none, when it
    cannot be trusted or read, or when one of its sources is no longer as it recorded (it must be made again)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with open(fd, "rb") as file:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != uid or st.st_mode & 0o077 or st.st_size > MAX_IMAGE_BYTES:
            return None
        data = file.read()
    try:
        content = marshal.loads(data)
    except (EOFError, ValueError, TypeError):
        return None
    if not (isinstance(content, tuple) and len(content) == 4 and content[:3] == (IMAGE_FORMAT, MAGIC_NUMBER, here)
            and isinstance(content[3], tuple)):
        return None
    entries: dict[str, Entry] = {}
    for record in content[3]:
        try:
            name, package, source, mtime_ns, size, code = record
            st = os.stat(source)
        except (ValueError, TypeError, OSError):  # not a record of this format, or its source is gone
            return None
        if (st.st_mtime_ns, st.st_size) != (mtime_ns, size) or type(code) is not _code_type():
            return None
        entries[name] = (package, source, code)
    return entries


def make_image(path: str, here: str) -> tuple[dict[str, Entry] | None, bool]:
    """Make the image of the tree at ``here`` and keep it at ``path``: its entries (served by this call even when
    it could not be kept: the folder full, RLIMIT_FSIZE), or None when it could not be made at all; and whether
    it was kept."""
    try:
        from .warmpath import WARM_MODULES

        records = []
        python = os.path.join(here, "python")
        for name in (*WARM_MODULES, *LAUNCHER_MODULES):
            base = os.path.join(python, *name.split("."))
            package = os.path.isdir(base)
            source = os.path.join(base, "__init__.py") if package else base + ".py"
            st = os.stat(source)  # before the code: a source changed in between is seen as stale by the next call
            # the code as an ordinary import would get it: from valid bytecode (the tree's, or this uid's folder's,
            # where it is written when missing), else compiled from the source
            code = SourceFileLoader(name, source).get_code(name)
            if code is None:  # only a loader without sources answers None
                return None, False
            records.append((name, package, source, st.st_mtime_ns, st.st_size, code))
    except Exception:  # the image only saves time: whatever fails here, imports go the ordinary way
        return None, False
    kept = keep(path, marshal.dumps((IMAGE_FORMAT, MAGIC_NUMBER, here, tuple(records))))
    return {name: (package, source, code) for name, package, source, _, _, code in records}, kept


def keep(path: str, data: bytes) -> bool:
    """Write ``data`` to ``path`` atomically, as a file of this uid's only; False (and nothing of this call's left
    behind) when the folder cannot take it."""
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError:  # no folder, or a file of that name (another pid namespace's call at the same moment)
        return False
    try:
        with open(fd, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except OSError:
        try:  # noqa: SIM105 - contextlib would be one more import
            os.unlink(temporary)
        except OSError:
            pass
        return False
    return True
