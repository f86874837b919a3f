"""Trust: a cache file is read only when no one but the runtime's user (or root) could have written it.

Native code from a cache file runs as the runtime's user, and a pywasm
artifact says which bytes to decode as which function: whoever can write
one controls the guest. So before a byte of it is read, a file must be a
regular file owned by the runtime's user or by root (root can replace the
runtime itself) and writable by no one else, opened without following
symlinks, relative to a folder (opened once) that passes the same test.
A file that fails is :class:`~sysinspect_wasm.store.Untrusted`: never read,
only replaced; a folder that fails is not used at all.

The checksum in every file's footer (:mod:`.fileformat`) is there to catch
damage, not an attacker: whoever can write the file could rewrite any
unkeyed digest with it, which is why who may write it is checked instead.
"""

from __future__ import annotations

import os
import stat

from . import Untrusted

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path


def unsafe_reason(st: os.stat_result, what: str) -> str:
    """Why a file or folder with status ``st`` must not be trusted ("" when it may be); root's files are trusted."""
    euid = os.geteuid()
    if st.st_uid not in (euid, 0):
        return f"{what} is owned by uid {st.st_uid}, neither the runtime's user (uid {euid}) nor root"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{what} is writable by other users (mode {stat.filemode(st.st_mode)})"
    return ""


def _checked(fd: int, what: str, regular: bool) -> os.stat_result:
    """The status of the file or folder open at ``fd`` once it may be trusted; else it is closed and
    :class:`~sysinspect_wasm.store.Untrusted` says why."""
    try:
        st = os.fstat(fd)
        problem = unsafe_reason(st, what) if not regular or stat.S_ISREG(st.st_mode) else f"{what} is not a regular file"
    except BaseException:
        os.close(fd)
        raise
    if problem:
        os.close(fd)
        raise Untrusted(problem)
    return st


def open_folder(folder: str | os.PathLike[str], create: bool) -> int:
    """A descriptor of ``folder`` (made mode 0700 first when ``create``) that passes the test of trust.

    Raises ``OSError`` when it cannot be made or opened, and
    :class:`~sysinspect_wasm.store.Untrusted` (the descriptor closed) when
    others could write it.
    """
    if create:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    _checked(dfd, "it", regular=False)
    return dfd


def open_trusted(dfd: int | None, name: str | Path, what: str = "it") -> tuple[int, os.stat_result] | None:
    """``(descriptor, status)`` of the cache file ``name`` (relative to folder ``dfd``), ``None`` when there is none.

    Raises :class:`~sysinspect_wasm.store.Untrusted`, naming ``what`` and why,
    when it is not a regular file the runtime may trust (a symlink, another
    owner, writable by others). The caller closes the descriptor.
    """
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dfd)
    except FileNotFoundError:
        return None
    except OSError as exc:  # a symlink (ELOOP) among others
        raise Untrusted(f"{what} cannot be opened safely ({exc.strerror or exc})") from None
    return fd, _checked(fd, what, regular=True)


def read_trusted(dfd: int | None, name: str | Path, limit: int) -> bytes | None:
    """The bytes of the cache file ``name`` (see :func:`open_trusted`), ``None`` when there is none.

    A file larger than ``limit`` bytes, which no cache of this kind writes,
    is :class:`~sysinspect_wasm.store.Untrusted` too.
    """
    opened = open_trusted(dfd, name)
    if opened is None:
        return None
    fd, st = opened
    try:
        if st.st_size > limit:
            raise Untrusted(f"it is larger ({st.st_size} bytes) than any file this cache writes")
        return os.pread(fd, st.st_size, 0)
    finally:
        os.close(fd)
