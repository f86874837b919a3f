"""Layout: what the cache files are called and which folder they are in.

Names. Every file ends in :data:`SUFFIX` (``.cwasm``), so the runtime never
takes one for a module (PROTOCOL.md 1.4), and any of them may be deleted at
any time. A module's cache file is ``<id>.<first 16 hex digits of the
key><kind>.cwasm`` (:func:`file_name`): ``<id>`` is the module file's name
without ``.wasm``, and ``kind`` keeps the backends' files apart (``""`` for
native code, ``.pywasm`` for the reference backend's). Hidden files sit
beside them, all named after the artifact's stem ``<id>.<16 hex>``:

- ``.<stem>.lock.cwasm``, held while a process compiles (:mod:`.concurrency`);
- ``.<stem>.<random>.tmp.cwasm``, a file being written, renamed in place when whole;
- ``.<stem>.<n>.part.cwasm``, part ``n`` of an artifact too large for one file (:mod:`.fileformat`);
- ``.<id>.<CRC-32 of the module's path>.memo.cwasm``, a remembered digest (:mod:`.memo`).

Folders (:func:`cache_folder`). Beside the module by default, as upstream's
artifacts are (PROTOCOL.md 3), so a sync that removes untracked files clears
them. :data:`CACHE_DIR_ENV` (or a backend's ``cache_dir``) names a folder of
their own instead, for read-only sharelibs. A user other than root who cannot
write the module's folder (a minion that drops to an unprivileged uid,
PROTOCOL.md 5.4) uses its private folder ``/var/tmp/sysinspect-wasm-<uid>``
(:func:`private_dir`): the minion passes its own environment, whose ``HOME``
is root's, so nothing is taken from it. Files that belong to no module (the
reference backend's compiled interpreter) go to the configured folder, else
to root's ``~/.cache/sysinspect-wasm`` or another user's private folder
(:func:`engine_folder`).
"""

from __future__ import annotations

import os
import stat
import zlib

from ..paths import join, pure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

SUFFIX = ".cwasm"
LOCK_SUFFIX = ".lock" + SUFFIX
TEMP_SUFFIX = ".tmp" + SUFFIX
PART_SUFFIX = ".part" + SUFFIX
MEMO_SUFFIX = ".memo" + SUFFIX
KEY_CHARS = 16
"""Hex digits of the key in a file's name; the full key is in its footer."""
CACHE_DIR_ENV = "SYSINSPECT_WASM_CACHE_DIR"
"""An absolute path: keep cache files in this folder (created, mode 0700, if missing) instead of beside the modules."""
PRIVATE_ROOT = "/var/tmp"
"""Where an unprivileged user's private cache folder ``sysinspect-wasm-<uid>`` is made: outside the sharelib
(a sync deletes what it does not list there), kept across reboots, and writable by every user."""
USER_DIR_NAME = "sysinspect-wasm"

_HEX = "0123456789abcdef"


# -- names ---------------------------------------------------------------------


def stem_of(module_id: str, key: str) -> str:
    """``<id>.<first 16 hex digits of key>``: what an artifact's name and its hidden files start with."""
    return f"{module_id}.{key[:KEY_CHARS]}"


def file_name(module_id: str, key: str, kind: str = "") -> str:
    """``<id>.<first 16 hex digits of key><kind>.cwasm``."""
    return f"{stem_of(module_id, key)}{kind}{SUFFIX}"


def parse_name(name: str, kind: str = "") -> tuple[str, str] | None:
    """``(module id, key prefix)`` when ``name`` is a :func:`file_name` of ``kind``, else ``None`` (hidden files
    and the other kinds' names included)."""
    ending = kind + SUFFIX
    if not name.endswith(ending) or name.startswith("."):
        return None
    module_id, _, prefix = name[: -len(ending)].rpartition(".")
    if not module_id or len(prefix) != KEY_CHARS or prefix.strip(_HEX):
        return None
    return module_id, prefix


def lock_name(stem: str) -> str:
    """The lock file of the artifact with ``stem``."""
    return f".{stem}{LOCK_SUFFIX}"


def temp_name(stem: str) -> str:
    """A fresh temporary file name for writing a file of the artifact with ``stem``."""
    return f".{stem}.{os.urandom(6).hex()}{TEMP_SUFFIX}"


def split_hidden(name: str, suffix: str) -> tuple[str, str]:
    """``(head, last field)`` of a hidden file's name ``.<head>.<field><suffix>``; ``("", "")`` for another name."""
    if not name.startswith(".") or not name.endswith(suffix):
        return "", ""
    head, _, field = name[1 : -len(suffix)].rpartition(".")
    return head, field


def temp_stem(name: str) -> str | None:
    """The stem a temporary file ``name`` was written for, ``None`` when it is not one."""
    stem, field = split_hidden(name, TEMP_SUFFIX)
    return stem if stem and field and not field.strip(_HEX) else None


def part_name(artifact: str, index: int) -> str:
    """The file name of part ``index`` of the artifact named ``artifact``."""
    return f".{artifact[: -len(SUFFIX)]}.{index}{PART_SUFFIX}"


def parse_part_name(name: str, kind: str = "") -> str | None:
    """The artifact's file name when ``name`` is one of its parts' names, else ``None``."""
    stem, index = split_hidden(name, PART_SUFFIX)
    if not stem or not index.isdigit() or not index.isascii() or parse_name(stem + SUFFIX, kind) is None:
        return None
    return stem + SUFFIX


def memo_name(module_id: str, source: str) -> str:
    """The memo's name for the module file at absolute path ``source`` (one per path, so shared folders work)."""
    return f".{module_id}.{zlib.crc32(os.fsencode(source)):08x}{MEMO_SUFFIX}"


def parse_memo_name(name: str) -> str | None:
    """The module id when ``name`` is a memo's name, else ``None``."""
    module_id, crc = split_hidden(name, MEMO_SUFFIX)
    if not module_id or len(crc) != 8 or crc.strip(_HEX):
        return None
    return module_id


# -- folders -------------------------------------------------------------------


def configured_dir(explicit: str | os.PathLike[str] | None = None) -> tuple[Path | None, str]:
    """The folder to use instead of the module's own, and a warning about the setting ("" when none).

    ``explicit`` (a backend's ``cache_dir``) wins over :data:`CACHE_DIR_ENV`;
    ``None`` means beside the module. A relative path in the variable is
    ignored (the runtime's working directory is whatever the minion's is).
    """
    folder, warning = _configured(explicit)
    return _as_path(folder), warning


def _configured(explicit: str | os.PathLike[str] | None) -> tuple[str | None, str]:
    """:func:`configured_dir` as a string (see :mod:`sysinspect_wasm.paths`)."""
    if explicit is not None:
        return pure(os.path.abspath(explicit)), ""
    value = os.environ.get(CACHE_DIR_ENV, "")
    if not value:
        return None, ""
    if not os.path.isabs(value):
        return None, f"{CACHE_DIR_ENV}={value!r} is not an absolute path and was ignored: cache files are kept beside the modules"
    return pure(value), ""


def _as_path(folder: str | None) -> Path | None:
    if folder is None:
        return None
    from pathlib import Path

    return Path(folder)


def private_dir() -> Path:
    """The private cache folder of this process's user: ``/var/tmp/sysinspect-wasm-<uid>``."""
    from pathlib import Path

    return Path(_private_dir())


def _private_dir() -> str:
    return join(PRIVATE_ROOT, f"{USER_DIR_NAME}-{os.geteuid()}")


def private_folder() -> tuple[Path | None, str]:
    """:func:`private_dir`, made mode 0700 if missing, or ``None`` and why it cannot be used.

    It is used only while it is a real folder (not a symlink) owned by this
    uid that no one else can enter: ``/var/tmp`` is writable by every user,
    so another one could have made it first.
    """
    private, problem = _private_folder()
    return _as_path(private), problem


def _private_folder() -> tuple[str | None, str]:
    """:func:`private_folder` as a string."""
    private = _private_dir()
    if not os.path.isdir(private):
        try:  # noqa: SIM105 - contextlib stays off the warm path (a minion that drops to another uid)
            os.mkdir(private, 0o700)
        except OSError:
            pass  # told below
    try:
        st = os.lstat(private)
    except OSError as exc:
        return None, f"cannot make the private cache folder {private} ({exc.strerror or exc})"
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
        return None, (f"not using {private} as the private cache folder: it is not a folder "
                      f"of uid {os.geteuid()} with mode 0700 ({stat.filemode(st.st_mode)}, uid {st.st_uid})")
    return private, ""


def cache_folder(source: str | os.PathLike[str], explicit: str | os.PathLike[str] | None) -> tuple[Path, bool, str]:
    """``(folder, whether to create it, warning)``: where the cache files of the module file ``source`` live.

    The configured folder (see :func:`configured_dir`) if there is one; else
    the module's own folder; else, for a user other than root who cannot
    write that folder, the user's private folder (:func:`private_folder`).
    """
    from pathlib import Path

    folder, create, warning = cache_folder_name(source, explicit)
    return Path(folder), create, warning


def cache_folder_name(source: str | os.PathLike[str], explicit: str | os.PathLike[str] | None) -> tuple[str, bool, str]:
    """:func:`cache_folder` with the folder as a string (a warm call's; see :mod:`sysinspect_wasm.paths`)."""
    folder, warning = _configured(explicit)
    if folder is not None:
        return folder, True, warning
    beside = pure(os.path.dirname(os.path.abspath(source)))
    if os.geteuid() == 0 or os.access(beside, os.W_OK):
        return beside, False, warning
    private, problem = _private_folder()
    if private is None:
        return beside, False, problem
    return private, False, warning


def user_dir() -> Path | None:
    """Root's folder for files that belong to no module: ``$XDG_CACHE_HOME/sysinspect-wasm`` or
    ``~/.cache/sysinspect-wasm``; ``None`` when neither is an absolute path (a minion's environment may have
    neither)."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        home = os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    from pathlib import Path

    return Path(base) / USER_DIR_NAME


def engine_folder(explicit: str | os.PathLike[str] | None = None) -> tuple[Path | None, str]:
    """Where files that belong to no module go, or ``None`` and why there is no such folder.

    The configured folder; else, for root, :func:`user_dir`; else (another
    uid, or root without a home) the private folder (:func:`private_folder`):
    a minion's ``HOME`` is root's even after it drops to another uid, and
    that uid cannot write there.
    """
    folder, _ = configured_dir(explicit)
    if folder is not None:
        return folder, ""
    if os.geteuid() == 0:
        home = user_dir()
        if home is not None:
            return home, ""
    return private_folder()
