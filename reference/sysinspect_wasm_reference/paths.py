"""Resolving a guest path inside one directory, component by component, never leaving it.

This is how wasmtime (through cap-std) confines a guest, and what we mirror:
each directory descriptor is a root; a path is walked one component at a
time with ``O_NOFOLLOW`` opens relative to the directory reached so far;
``..`` pops back but never above the root; a symbolic link met on the way
(or at the end, when the operation follows links) is read and its target
spliced into the walk, still inside the root. Absolute paths, ``..`` above
the root and links that lead out are refused with ``EPERM``, as wasmtime
refuses them; more than 40 link expansions give ``ELOOP``.

The result is a directory descriptor and a final name inside it, for the
``*at`` system calls to act on with ``follow_symlinks=False``/``O_NOFOLLOW``,
so the kernel never follows a link we have not checked.
"""

from __future__ import annotations

import errno
import os
import stat
from types import TracebackType

from sysinspect_wasm.errors import WasmRuntimeError

MAX_SYMLINK_EXPANSIONS = 40

_DIR_FLAGS = getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class PathError(WasmRuntimeError):
    """A path cannot be resolved; ``errno`` is the host errno number to report."""

    def __init__(self, code: int, path: str) -> None:
        super().__init__(f"{os.strerror(code)}: {path!r}")
        self.errno = code


class Resolved:
    """A resolved path: ``name`` inside directory ``dir_fd``; close it when done.

    ``name`` is a single component (never a link that should have been
    followed), ``"."`` for the directory itself. ``trailing_slash`` tells
    whether the guest's path ended in ``/``; :attr:`at_name` puts it back for
    system calls whose errors depend on it.
    """

    def __init__(self, dir_fd: int, name: str, trailing_slash: bool, owned: list[int]) -> None:
        self.dir_fd = dir_fd
        self.name = name
        self.trailing_slash = trailing_slash
        self._owned = owned

    @property
    def at_name(self) -> str:
        """The final name as the ``*at`` call should see it (with the guest's trailing slash)."""
        return self.name + "/" if self.trailing_slash and self.name not in (".", "..") else self.name

    def lstat(self) -> os.stat_result | None:
        """The final entry's status without following it, ``None`` when it does not exist."""
        try:
            return os.stat(self.name, dir_fd=self.dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def close(self) -> None:
        """Close the directories opened on the way."""
        while self._owned:
            os.close(self._owned.pop())

    def __enter__(self) -> Resolved:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def resolve(root_fd: int, path: str, *, follow: bool) -> Resolved:
    """Resolve guest ``path`` under directory ``root_fd``.

    ``follow``: expand a symbolic link in the final position too (a trailing
    slash always does, as POSIX says). Raises :class:`PathError`.
    """
    if not path:
        raise PathError(errno.ENOENT, path)
    if "\0" in path:
        raise PathError(errno.EILSEQ, path)
    if path.startswith("/"):
        raise PathError(errno.EPERM, path)
    trailing = path.endswith("/")
    pending = [part for part in path.split("/") if part]
    stack: list[int] = []
    expansions = 0

    def here() -> int:
        return stack[-1] if stack else root_fd

    try:
        while pending:
            part = pending.pop(0)
            last = not pending
            if part == ".":
                if last:
                    return Resolved(here(), ".", trailing, stack)
                continue
            if part == "..":
                if not stack:
                    raise PathError(errno.EPERM, path)
                os.close(stack.pop())
                if last:
                    return Resolved(here(), ".", trailing, stack)
                continue
            if last and not (follow or trailing):
                return Resolved(here(), part, trailing, stack)
            try:
                info = os.stat(part, dir_fd=here(), follow_symlinks=False)
            except FileNotFoundError:
                if last:
                    return Resolved(here(), part, trailing, stack)
                raise PathError(errno.ENOENT, path) from None
            if stat.S_ISLNK(info.st_mode):
                expansions += 1
                if expansions > MAX_SYMLINK_EXPANSIONS:
                    raise PathError(errno.ELOOP, path)
                target = os.readlink(part, dir_fd=here())
                if target.startswith("/"):
                    raise PathError(errno.EPERM, path)
                if last and target.endswith("/"):
                    trailing = True
                pending[:0] = [p for p in target.split("/") if p] or ["."]
                continue
            if last:
                return Resolved(here(), part, trailing, stack)
            if not stat.S_ISDIR(info.st_mode):
                raise PathError(errno.ENOTDIR, path)
            stack.append(os.open(part, _DIR_FLAGS, dir_fd=here()))
        return Resolved(here(), ".", trailing, stack)
    except BaseException:
        for fd in stack:
            os.close(fd)
        raise


def resolve_entry(root_fd: int, path: str) -> Resolved:
    """Resolve ``path`` to the directory entry it names, never following a link in the final position.

    For operations on the entry itself (rename, link, unlink, mkdir, ...): a
    trailing slash is kept in :attr:`Resolved.at_name` for the kernel to judge,
    instead of following the final link as :func:`resolve` would.
    """
    stripped = path.rstrip("/")
    if not stripped:
        return resolve(root_fd, path, follow=False)
    resolved = resolve(root_fd, stripped, follow=False)
    resolved.trailing_slash = stripped != path
    return resolved


def open_directory(resolved: Resolved) -> Resolved:
    """The directory a resolved path names, as ``(its own descriptor, ".")``; ``ENOTDIR`` if it is not one."""
    if resolved.name == ".":
        return resolved
    info = resolved.lstat()
    if info is None:
        raise PathError(errno.ENOENT, resolved.name)
    if not stat.S_ISDIR(info.st_mode):
        raise PathError(errno.ENOTDIR, resolved.name)
    fd = os.open(resolved.name, _DIR_FLAGS, dir_fd=resolved.dir_fd)
    resolved._owned.append(fd)
    return Resolved(fd, ".", False, resolved._owned)
