"""WASI preview 1 on pywasm, confined the way wasmtime confines it.

:class:`ConfinedWasi` is pywasm's ``Preview1`` (which passes the official WASI
test suite) with what a sandbox needs put in:

- standard streams are in-memory: stdin is the run's bytes then EOF, stdout
  and stderr are captured with a byte cap; nothing reaches the host
  process's own streams (their host descriptors are ``-1``);
- every ``path_*`` call resolves its path with :mod:`.paths`, so ``..``,
  absolute paths and symbolic links can never lead out of a preopen, and
  refuses with ``EPERM`` as wasmtime does;
- a read-only preopen (and everything opened through it) refuses every
  change with ``EPERM``, checked before the path is even looked at, as
  wasmtime does; ``path_open`` refuses exactly what wasmtime refuses (see
  :meth:`ConfinedWasi.open_refusal`), so a read-only open asking for rights
  it will never use (Go's ``os.Open`` does) still succeeds;
- rights are ignored once a descriptor is open, as wasmtime ignores them:
  what a descriptor can do depends on its kind (standard stream, directory,
  file) and on whether it was opened for reading and writing (see
  :meth:`ConfinedWasi.path_open`); ``fd_fdstat_get`` reports the rights
  wasmtime reports, and ``fd_fdstat_set_rights`` is not supported;
- descriptors opened from a preopen are stat-ed and listed through their
  descriptor, never through a host path name;
- ``poll_oneoff`` never sleeps past the run's deadline;
- ``proc_exit`` stops the guest with :class:`~.signals.GuestExit`;
- every call, ``proc_exit`` included, stops a guest that exports no memory
  named ``memory`` with ``unreachable`` ("missing required memory export"),
  as wasmtime does, whether or not the call would touch memory;
- host ``OSError``s become WASI errnos; a pointer outside guest memory stops
  the guest with ``out-of-bounds memory`` (wasmtime: "pointer out of bounds").
"""

from __future__ import annotations

import copy
import dataclasses
import errno
import fcntl
import io
import os
import select
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sysinspect_wasm.spec import Preopen
from sysinspect_wasm.traps import TrapKind

from .hostbinding import exported_memory
from .loader import ENGINE
from .paths import PathError, Resolved, open_directory, resolve, resolve_entry
from .signals import GuestExit, GuestStop, HostTrap

Preview1: Any = ENGINE.wasi.Preview1

WASI_MODULE = "wasi_snapshot_preview1"

# host errno number -> WASI errno number, by name (WASI's ERRNO_ACCES is POSIX's EACCES, and so on)
_ERRNO_TO_WASI: dict[int, int] = {
    getattr(errno, "E" + attr[len("ERRNO_"):]): getattr(Preview1, attr)
    for attr in dir(Preview1)
    if attr.startswith("ERRNO_") and hasattr(errno, "E" + attr[len("ERRNO_"):])
}

# Rights, as wasmtime reports them (they decide nothing there, nor here).
ALL_RIGHTS = sum(int(getattr(Preview1, name)) for name in dir(Preview1) if name.startswith("RIGHTS_"))
PREOPEN_RIGHTS = 0x07B7FE00  # a preopen's base: the path_* rights, FD_READDIR, FD_FILESTAT_GET/SET_TIMES
PREOPEN_INHERITING = 0x0FF7FFFF  # what its files may get: everything but PATH_FILESTAT_SET_SIZE and sockets
DIRECTORY_RIGHTS = ALL_RIGHTS & ~(
    Preview1.RIGHTS_FD_SEEK | Preview1.RIGHTS_FD_WRITE | Preview1.RIGHTS_FD_FILESTAT_SET_SIZE
    | Preview1.RIGHTS_PATH_FILESTAT_SET_SIZE
)

# Calls wasmtime only makes on a regular file: a directory answers EBADF, and so does a standard stream,
# except ESPIPE where the stream could do it but has no position (see ConfinedWasi.not_a_file).
FILE_ONLY = frozenset({
    "fd_advise", "fd_allocate", "fd_datasync", "fd_fdstat_set_flags", "fd_filestat_set_size", "fd_pread", "fd_pwrite",
    "fd_seek", "fd_sync", "fd_tell",
})

# wasmtime's exit statuses: anything outside [0, 126) is an error, not an exit
_EXIT_STATUS_LIMIT = 126

MISSING_MEMORY = "missing required memory export"
"""wasmtime's trap message for a WASI call from a guest without an exported ``memory``."""


def wasi_errno(host_errno: int | None) -> int:
    """The WASI errno for a host errno (``EIO`` for one WASI has no name for)."""
    return int(_ERRNO_TO_WASI.get(host_errno or errno.EIO, Preview1.ERRNO_IO))


class CappedOutput:
    """A captured output stream: keeps at most ``cap`` bytes; one more stops the guest."""

    def __init__(self, name: str, cap: int) -> None:
        self.name = name
        self.cap = cap
        self.data = bytearray()

    def write(self, data: bytes | bytearray) -> int:
        """Append ``data``; past the cap, keep what fits and stop the guest with ``output limit``."""
        room = self.cap - len(self.data)
        if len(data) > room:
            self.data += data[:room]
            raise HostTrap(TrapKind.OUTPUT_LIMIT, f"the guest wrote more than {self.cap} bytes to {self.name}")
        self.data += data
        return len(data)


@dataclasses.dataclass
class File(Preview1.File):  # type: ignore[misc]
    """pywasm's descriptor record, plus where it came from and what it was opened for.

    ``writable``: the preopen it came through may be changed; ``reads`` and
    ``writes``: the descriptor was opened for reading, for writing (a
    standard stream goes one way only).
    """

    writable: bool = True
    preopen: bool = False
    reads: bool = True
    writes: bool = True


class ConfinedWasi(Preview1):  # type: ignore[misc]
    """WASI preview 1 for one run: captured stdio, confined preopens, a deadline."""

    def __init__(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        stdin: bytes,
        stdout: CappedOutput,
        stderr: CappedOutput,
        preopens: Sequence[Preopen],
        deadline: float | None,
    ) -> None:
        # pywasm's __init__ would hand the guest the host process's own stdio; ours never does
        self.args = list(args)
        self.envs = [f"{key}={value}" for key, value in env.items()]
        self.dirs = {p.guest_path: str(p.host_path) for p in preopens}
        self.return_on_exit = 1
        self.deadline = deadline
        self.fd: list[File] = []
        for number, pipe in ((self.FD_STDIN, io.BytesIO(stdin)), (self.FD_STDOUT, stdout), (self.FD_STDERR, stderr)):
            # never a terminal: wasmtime says UNKNOWN for a stream that is not a tty
            reads = number == self.FD_STDIN
            self.fd.append(self._record(-1, 0, "", pipe, number, 0, 0, self.FILETYPE_UNKNOWN, writable=True,
                                        reads=reads, writes=not reads))
        try:
            for preopen in preopens:
                host_fd = os.open(preopen.host_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                self.fd.append(self._record(
                    host_fd, os.O_RDONLY | os.O_DIRECTORY, preopen.guest_path, None, len(self.fd),
                    PREOPEN_RIGHTS, PREOPEN_INHERITING, self.FILETYPE_DIRECTORY, writable=preopen.writable, preopen=True,
                ))
        except BaseException:
            self.close()
            raise

    def _record(self, host_fd: int, host_flag: int, name: str, pipe: Any, wasm_fd: int, rights_base: int,
                rights_root: int, wasm_type: int, *, writable: bool, preopen: bool = False, wasm_flag: int = 0,
                reads: bool = True, writes: bool = True) -> File:
        return File(
            host_fd=host_fd, host_flag=host_flag, host_name=name, host_status=self.FILE_STATUS_OPENED, pipe=pipe,
            wasm_fd=wasm_fd, wasm_flag=wasm_flag, wasm_name=name, wasm_rights_base=rights_base,
            wasm_rights_root=rights_root, wasm_status=self.FILE_STATUS_OPENED, wasm_type=wasm_type,
            writable=writable, preopen=preopen, reads=reads, writes=writes,
        )

    def close(self) -> None:
        """Close every host descriptor the guest still holds."""
        for file in self.fd:
            if file.host_fd >= 0 and file.host_status == self.FILE_STATUS_OPENED:
                os.close(file.host_fd)
                file.host_status = self.FILE_STATUS_CLOSED

    # -- binding ------------------------------------------------------------

    def bind(self, runtime: Any) -> None:
        """Register every preview 1 function under ``wasi_snapshot_preview1``, each behind :func:`_guarded`.

        The functions of :data:`FILE_ONLY` first answer what wasmtime answers
        for a descriptor that is not a file (:meth:`not_a_file`).
        """
        super().bind(runtime)
        for name, extern in runtime.imports[WASI_MODULE].items():
            host = runtime.machine.store.func[extern.data]
            code = self._file_only(name, host.hostcode) if name in FILE_ONLY else host.hostcode
            host.hostcode = _guarded(name, code)

    def _file_only(self, name: str, function: Callable[[Any, list[int]], list[int]]) -> Callable[[Any, list[int]], list[int]]:
        def call(machine: Any, args: list[int]) -> list[int]:
            refusal = self.not_a_file(name, args[0])
            return function(machine, args) if refusal is None else [refusal]

        return call

    def not_a_file(self, name: str, fd: int) -> int | None:
        """What wasmtime answers file-only call ``name`` on ``fd`` when it is not an open file, else ``None``.

        A standard stream has no position: seeking it, or reading (writing)
        at an offset where it reads (writes), is ``ESPIPE``; anything else on
        it, and everything on a directory, is ``EBADF``.
        """
        if self.help_badf(fd):
            return int(self.ERRNO_BADF)
        file: File = self.fd[fd]
        if file.pipe is not None:
            positioned = name in ("fd_seek", "fd_tell") or (name == "fd_pread" and file.reads) or (
                name == "fd_pwrite" and file.writes)
            return int(self.ERRNO_SPIPE if positioned else self.ERRNO_BADF)
        if file.wasm_type == self.FILETYPE_DIRECTORY:
            return int(self.ERRNO_BADF)
        return None

    # -- helpers pywasm's methods call ----------------------------------------

    def help_perm(self, fd: int, perm: int) -> bool:
        """Whether ``fd`` lacks right ``perm``: never, since wasmtime ignores rights once a descriptor is open."""
        return False

    def help_pipe(self, fd: int) -> bool:
        """Whether ``fd`` is one of our in-memory streams (wherever fd_renumber moved it)."""
        return bool(self.fd[fd].pipe is not None)

    def _memory(self, m: Any) -> Any:
        return m.store.mems[m.stack.frame[-1].module.mems[0]]

    def _text(self, m: Any, ptr: int, size: int) -> str:
        return bytes(self._memory(m).get(ptr, size)).decode("utf-8")

    def _directory(self, fd: int, *, file_errno: int | None = None) -> tuple[File | None, int]:
        """The open directory record for ``fd``, or the errno to answer.

        wasmtime answers ``EBADF`` when ``fd`` is not a directory; ``path_open``
        passes ``file_errno`` because wasmtime answers it ``ENOTDIR`` for a file
        (but still ``EBADF`` for a standard stream).
        """
        if self.help_badf(fd):
            return None, int(self.ERRNO_BADF)
        file: File = self.fd[fd]
        if file.wasm_type != self.FILETYPE_DIRECTORY:
            return None, int(self.ERRNO_BADF if file_errno is None or file.pipe is not None else file_errno)
        return file, int(self.ERRNO_SUCCESS)

    def _resolve(self, file: File, path: str, *, follow: bool) -> Resolved:
        return resolve(file.host_fd, path, follow=follow)

    def _entry(self, file: File, path: str) -> Resolved:
        return resolve_entry(file.host_fd, path)

    def _put_filestat(self, m: Any, ptr: int, info: os.stat_result, wasm_type: int) -> None:
        mems = self._memory(m)
        mems.put(ptr, bytearray(64))
        mems.put_u64(ptr, 1)
        mems.put_u64(ptr + 8, info.st_ino)
        mems.put_u8(ptr + 16, wasm_type)
        mems.put_u64(ptr + 24, info.st_nlink)
        mems.put_u64(ptr + 32, info.st_size)
        mems.put_u64(ptr + 40, info.st_atime_ns)
        mems.put_u64(ptr + 48, info.st_mtime_ns)
        mems.put_u64(ptr + 56, info.st_ctime_ns)

    def _times(self, current: os.stat_result, atim: int, mtim: int, flags: int) -> tuple[int, int] | None:
        if flags & self.FSTFLAGS_ATIM and flags & self.FSTFLAGS_ATIM_NOW:
            return None
        if flags & self.FSTFLAGS_MTIM and flags & self.FSTFLAGS_MTIM_NOW:
            return None
        now = time.time_ns()
        access = atim if flags & self.FSTFLAGS_ATIM else now if flags & self.FSTFLAGS_ATIM_NOW else current.st_atime_ns
        modify = mtim if flags & self.FSTFLAGS_MTIM else now if flags & self.FSTFLAGS_MTIM_NOW else current.st_mtime_ns
        return access, modify

    # -- arguments and environment (pywasm counts characters, not UTF-8 bytes) -----

    def _put_strings(self, m: Any, strings: list[str], pointers: int, buffer: int) -> list[int]:
        mems = self._memory(m)
        for text in strings:
            data = text.encode() + b"\0"
            mems.put_u32(pointers, buffer)
            mems.put(buffer, bytearray(data))
            pointers += 4
            buffer += len(data)
        return [self.ERRNO_SUCCESS]

    def _put_sizes(self, m: Any, strings: list[str], count_ptr: int, size_ptr: int) -> list[int]:
        mems = self._memory(m)
        mems.put_u32(count_ptr, len(strings))
        mems.put_u32(size_ptr, sum(len(text.encode()) + 1 for text in strings))
        return [self.ERRNO_SUCCESS]

    def args_get(self, m: Any, args: list[int]) -> list[int]:
        """Write the argument vector."""
        return self._put_strings(m, self.args, args[0], args[1])

    def args_sizes_get(self, m: Any, args: list[int]) -> list[int]:
        """The number of arguments and their size in bytes."""
        return self._put_sizes(m, self.args, args[0], args[1])

    def environ_get(self, m: Any, args: list[int]) -> list[int]:
        """Write the environment."""
        return self._put_strings(m, self.envs, args[0], args[1])

    def environ_sizes_get(self, m: Any, args: list[int]) -> list[int]:
        """The number of environment variables and their size in bytes."""
        return self._put_sizes(m, self.envs, args[0], args[1])

    # -- descriptors ----------------------------------------------------------

    def fd_prestat_get(self, m: Any, args: list[int]) -> list[int]:
        """Describe preopen ``fd`` (only preopens have a prestat)."""
        if self.help_badf(args[0]) or not self.fd[args[0]].preopen:
            return [self.ERRNO_BADF]
        mems = self._memory(m)
        mems.put_u8(args[1], self.PREOPENTYPE_DIR)
        mems.put_u32(args[1] + 4, len(self.fd[args[0]].wasm_name.encode()))
        return [self.ERRNO_SUCCESS]

    def fd_prestat_dir_name(self, m: Any, args: list[int]) -> list[int]:
        """The guest path of preopen ``fd``."""
        if self.help_badf(args[0]) or not self.fd[args[0]].preopen:
            return [self.ERRNO_BADF]
        name = self.fd[args[0]].wasm_name.encode()
        if len(name) > args[2]:
            return [self.ERRNO_NAMETOOLONG]
        self._memory(m).put(args[1], bytearray(name))
        return [self.ERRNO_SUCCESS]

    def fd_read(self, m: Any, args: list[int]) -> list[int]:
        """Read from ``fd``; a directory or stdout/stderr gives ``EBADF`` as in wasmtime."""
        if not self.help_badf(args[0]) and (self.help_idir(args[0]) or self._wrong_way(args[0], reading=True)):
            return [self.ERRNO_BADF]
        result: list[int] = super().fd_read(m, args)
        return result

    def fd_write(self, m: Any, args: list[int]) -> list[int]:
        """Write to ``fd``; a directory or stdin gives ``EBADF`` as in wasmtime."""
        if not self.help_badf(args[0]) and (self.help_idir(args[0]) or self._wrong_way(args[0], reading=False)):
            return [self.ERRNO_BADF]
        result: list[int] = super().fd_write(m, args)
        return result

    def _wrong_way(self, fd: int, *, reading: bool) -> bool:
        # a file opened one way only needs no check: the host answers EBADF, as wasmtime's host does
        file: File = self.fd[fd]
        return file.pipe is not None and not (file.reads if reading else file.writes)

    def fd_close(self, m: Any, args: list[int]) -> list[int]:
        """Close ``fd`` (a standard stream has no host descriptor to close)."""
        if self.help_badf(args[0]):
            return [self.ERRNO_BADF]
        file = self.fd[args[0]]
        if file.host_fd >= 0 and file.host_status == self.FILE_STATUS_OPENED:
            os.close(file.host_fd)
            file.host_status = self.FILE_STATUS_CLOSED
        file.wasm_status = self.FILE_STATUS_CLOSED
        return [self.ERRNO_SUCCESS]

    def rights(self, file: File) -> int:
        """The rights wasmtime reports for ``file`` (base; inheriting is the same but for a preopen)."""
        if file.pipe is not None:
            return int(self.RIGHTS_FD_READ if file.reads else self.RIGHTS_FD_WRITE)
        if file.preopen:
            return PREOPEN_RIGHTS
        if file.wasm_type == self.FILETYPE_DIRECTORY:
            return int(DIRECTORY_RIGHTS)
        rights = ALL_RIGHTS
        if not file.reads:
            rights &= ~(self.RIGHTS_FD_READ | self.RIGHTS_FD_READDIR)
        if not file.writes:
            rights &= ~self.RIGHTS_FD_WRITE
        return rights

    def fd_fdstat_get(self, m: Any, args: list[int]) -> list[int]:
        """Describe ``fd``: its type, flags and the rights wasmtime reports for it (see :meth:`rights`)."""
        if self.help_badf(args[0]):
            return [self.ERRNO_BADF]
        file = self.fd[args[0]]
        mems = self._memory(m)
        mems.put(args[1], bytearray(24))
        mems.put_u8(args[1], file.wasm_type)
        mems.put_u16(args[1] + 2, file.wasm_flag)
        mems.put_u64(args[1] + 8, self.rights(file))
        mems.put_u64(args[1] + 16, PREOPEN_INHERITING if file.preopen else self.rights(file))
        return [self.ERRNO_SUCCESS]

    def fd_fdstat_set_rights(self, m: Any, args: list[int]) -> list[int]:
        """Not supported (``ENOTSUP``), as in wasmtime; a standard stream answers ``EBADF``."""
        if self.help_badf(args[0]) or self.fd[args[0]].pipe is not None:
            return [self.ERRNO_BADF]
        return [self.ERRNO_NOTSUP]

    def fd_fdstat_set_flags(self, m: Any, args: list[int]) -> list[int]:
        """Set ``APPEND`` and ``NONBLOCK`` of a file (the others are wasmtime's ``EINVAL``)."""
        flags = args[1]
        if flags & (self.FDFLAGS_DSYNC | self.FDFLAGS_RSYNC | self.FDFLAGS_SYNC):
            return [self.ERRNO_INVAL]
        file = self.fd[args[0]]
        host_flags = fcntl.fcntl(file.host_fd, fcntl.F_GETFL)
        host_flags = host_flags | os.O_APPEND if flags & self.FDFLAGS_APPEND else host_flags & ~os.O_APPEND
        fcntl.fcntl(file.host_fd, fcntl.F_SETFL, host_flags)
        file.wasm_flag = flags & (self.FDFLAGS_APPEND | self.FDFLAGS_NONBLOCK)
        return [self.ERRNO_SUCCESS]

    def fd_filestat_get(self, m: Any, args: list[int]) -> list[int]:
        """Stat ``fd`` through its descriptor (pywasm stats a host path name)."""
        if self.help_badf(args[0]):
            return [self.ERRNO_BADF]
        file = self.fd[args[0]]
        if file.host_fd < 0:
            self._memory(m).put(args[1], bytearray(64))
            self._memory(m).put_u8(args[1] + 16, file.wasm_type)
            return [self.ERRNO_SUCCESS]
        info = os.fstat(file.host_fd)
        self._put_filestat(m, args[1], info, self.help_wasm_type(info))
        return [self.ERRNO_SUCCESS]

    def _refuse_change(self, fd: int) -> list[int] | None:
        if self.help_badf(fd):
            return [self.ERRNO_BADF]
        if not self.fd[fd].writable:
            return [self.ERRNO_PERM]
        return None

    def fd_allocate(self, m: Any, args: list[int]) -> list[int]:
        """Not supported (``ENOTSUP``) on a file, as in wasmtime."""
        return [self.ERRNO_NOTSUP]

    def fd_filestat_set_size(self, m: Any, args: list[int]) -> list[int]:
        """Truncate or extend ``fd``; refused through a read-only preopen."""
        refusal = self._refuse_change(args[0])
        result: list[int] = refusal or super().fd_filestat_set_size(m, args)
        return result

    def fd_filestat_set_times(self, m: Any, args: list[int]) -> list[int]:
        """Set the times of ``fd``; refused through a read-only preopen, and on a standard stream (``EBADF``)."""
        if not self.help_badf(args[0]) and self.fd[args[0]].pipe is not None:
            return [self.ERRNO_BADF]
        refusal = self._refuse_change(args[0])
        if refusal:
            return refusal
        file = self.fd[args[0]]
        times = self._times(os.fstat(file.host_fd), args[1], args[2], args[3])
        if times is None:
            return [self.ERRNO_INVAL]
        os.utime(file.host_fd, ns=times)
        return [self.ERRNO_SUCCESS]

    def fd_readdir(self, m: Any, args: list[int]) -> list[int]:
        """List a directory through its descriptor, links reported as links (never followed)."""
        if self.help_badf(args[0]):
            return [self.ERRNO_BADF]
        file = self.fd[args[0]]
        if file.wasm_type != self.FILETYPE_DIRECTORY:
            return [self.ERRNO_BADF]
        mems = self._memory(m)
        dirent, buflen, cookie = args[1], args[2], args[3]
        bufend = dirent + buflen
        names = [".", "..", *sorted(os.listdir(file.host_fd))]
        for name in names[cookie:]:
            if dirent + 24 > bufend:
                break
            try:
                info = os.stat(name, dir_fd=file.host_fd, follow_symlinks=False)
            except FileNotFoundError:
                cookie += 1  # removed while listing: skip it, keep the cookies in step
                continue
            encoded = name.encode()
            mems.put_u64(dirent, cookie + 1)
            mems.put_u64(dirent + 8, info.st_ino)
            mems.put_u32(dirent + 16, len(encoded))
            mems.put_u8(dirent + 20, self.help_wasm_type(info))
            dirent += 24
            if dirent + len(encoded) > bufend:
                mems.put(dirent, bytearray(encoded[:bufend - dirent]))
                dirent = bufend
                break
            mems.put(dirent, bytearray(encoded))
            dirent += len(encoded)
            cookie += 1
        mems.put_u32(args[4], dirent - args[1] if cookie >= len(names) else buflen)
        return [self.ERRNO_SUCCESS]

    def fd_renumber(self, m: Any, args: list[int]) -> list[int]:
        """Move descriptor ``from`` onto ``to``, closing what ``to`` held."""
        source, target = args
        if self.help_badf(source) or self.help_badf(target):
            return [self.ERRNO_BADF]
        if source == target:
            return [self.ERRNO_SUCCESS]
        old = self.fd[target]
        if old.host_fd >= 0 and old.host_status == self.FILE_STATUS_OPENED:
            os.close(old.host_fd)
        moved = copy.copy(self.fd[source])
        moved.wasm_fd = target
        self.fd[target] = moved
        emptied = copy.copy(self.fd[source])
        emptied.host_fd, emptied.pipe = -1, None
        emptied.host_status = emptied.wasm_status = self.FILE_STATUS_CLOSED
        self.fd[source] = emptied
        return [self.ERRNO_SUCCESS]

    # -- paths ------------------------------------------------------------------

    def open_refusal(self, root: File, oflags: int, rights_base: int, fdflags: int) -> int | None:
        """The errno wasmtime answers a ``path_open`` with before it opens anything, or ``None`` to go on.

        In wasmtime's order: the synchronous-I/O flags are not supported;
        ``DIRECTORY`` cannot go with ``CREAT``, ``EXCL`` or ``TRUNC``; and a
        read-only preopen refuses an open that creates, truncates or asks for
        ``FD_WRITE``. wasmtime ignores every other right (a read-only open
        asking for ``FD_FILESTAT_SET_SIZE`` or ``FD_DATASYNC`` succeeds, and a
        change through it is refused later) and the ``APPEND`` flag.
        """
        if fdflags & (self.FDFLAGS_SYNC | self.FDFLAGS_DSYNC | self.FDFLAGS_RSYNC):
            return int(self.ERRNO_NOTSUP)
        if oflags & self.OFLAGS_DIRECTORY and oflags & (self.OFLAGS_CREAT | self.OFLAGS_EXCL | self.OFLAGS_TRUNC):
            return int(self.ERRNO_INVAL)
        writes = oflags & (self.OFLAGS_CREAT | self.OFLAGS_TRUNC) or rights_base & self.RIGHTS_FD_WRITE
        if writes and not root.writable:
            return int(self.ERRNO_PERM)
        return None

    def path_open(self, m: Any, args: list[int]) -> list[int]:
        """Open a path inside directory ``fd``, confined; refused as wasmtime refuses (:meth:`open_refusal`).

        The rights asked for only choose, as in wasmtime, what the descriptor
        is opened for: writing with FD_WRITE, CREAT or TRUNC; reading with
        FD_READ, or without FD_WRITE. Neither ``fd``'s rights nor the new
        descriptor's decide anything afterwards.
        """
        dirfd, lookup, path_ptr, path_len, oflags, rights_base, rights_root, fdflags, out_ptr = args
        root, code = self._directory(dirfd, file_errno=self.ERRNO_NOTDIR)
        if root is None:
            return [code]
        path = self._text(m, path_ptr, path_len)
        refusal = self.open_refusal(root, oflags, rights_base, fdflags)
        if refusal is not None:
            return [refusal]
        exclusive = oflags & self.OFLAGS_CREAT and oflags & self.OFLAGS_EXCL
        follow = bool(lookup & self.LOOKUPFLAGS_SYMLINK_FOLLOW) and not exclusive
        flags = os.O_NOFOLLOW | os.O_CLOEXEC
        for wasi_flag, host_flag in (
            (self.OFLAGS_CREAT, os.O_CREAT), (self.OFLAGS_DIRECTORY, os.O_DIRECTORY),
            (self.OFLAGS_EXCL, os.O_EXCL), (self.OFLAGS_TRUNC, os.O_TRUNC),
        ):
            if oflags & wasi_flag:
                flags |= host_flag
        # wasmtime: creating or truncating opens for writing; without FD_WRITE, for reading too
        writes = bool(rights_base & self.RIGHTS_FD_WRITE or oflags & (self.OFLAGS_CREAT | self.OFLAGS_TRUNC))
        reads = bool(rights_base & self.RIGHTS_FD_READ or not rights_base & self.RIGHTS_FD_WRITE)
        flags |= os.O_RDWR if reads and writes else os.O_WRONLY if writes else os.O_RDONLY
        if fdflags & self.FDFLAGS_APPEND:
            flags |= os.O_APPEND
        # creating "name/": wasmtime leaves the final name unresolved and the host answers EISDIR
        # (even for a link leading out, a dangling one or a loop)
        creating_slashed = bool(oflags & self.OFLAGS_CREAT) and path.endswith("/")
        opened = self._entry(root, path) if creating_slashed else self._resolve(root, path, follow=follow)
        with opened as target:
            host_fd = os.open(target.at_name, flags, 0o644, dir_fd=target.dir_fd)
        info = os.fstat(host_fd)
        wasm_fd = len(self.fd)
        self.fd.append(self._record(
            host_fd, flags, os.path.join(root.wasm_name, path), None, wasm_fd, rights_base, rights_root,
            self.help_wasm_type(info), writable=root.writable, wasm_flag=fdflags, reads=reads, writes=writes,
        ))
        self._memory(m).put_u32(out_ptr, wasm_fd)
        return [self.ERRNO_SUCCESS]

    def path_filestat_get(self, m: Any, args: list[int]) -> list[int]:
        """Stat a path inside directory ``fd``, confined."""
        root, code = self._directory(args[0])
        if root is None:
            return [code]
        path = self._text(m, args[2], args[3])
        with self._resolve(root, path, follow=bool(args[1] & self.LOOKUPFLAGS_SYMLINK_FOLLOW)) as target:
            info = os.stat(target.at_name, dir_fd=target.dir_fd, follow_symlinks=False)
        self._put_filestat(m, args[4], info, self.help_wasm_type(info))
        return [self.ERRNO_SUCCESS]

    def path_filestat_set_times(self, m: Any, args: list[int]) -> list[int]:
        """Set the times of a path inside directory ``fd``; refused through a read-only preopen."""
        root, code = self._directory(args[0])
        if root is None:
            return [code]
        if not root.writable:
            return [self.ERRNO_PERM]
        path = self._text(m, args[2], args[3])
        with self._resolve(root, path, follow=bool(args[1] & self.LOOKUPFLAGS_SYMLINK_FOLLOW)) as target:
            current = os.stat(target.at_name, dir_fd=target.dir_fd, follow_symlinks=False)
            times = self._times(current, args[4], args[5], args[6])
            if times is None:
                return [self.ERRNO_INVAL]
            os.utime(target.at_name, ns=times, dir_fd=target.dir_fd, follow_symlinks=False)
        return [self.ERRNO_SUCCESS]

    def path_readlink(self, m: Any, args: list[int]) -> list[int]:
        """Read a link inside directory ``fd``, confined."""
        root, code = self._directory(args[0])
        if root is None:
            return [code]
        path = self._text(m, args[1], args[2])
        with self._entry(root, path) as target:
            data = os.readlink(target.at_name, dir_fd=target.dir_fd).encode()
        size = min(len(data), args[4])
        self._memory(m).put(args[3], bytearray(data[:size]))
        self._memory(m).put_u32(args[5], size)
        return [self.ERRNO_SUCCESS]

    def path_create_directory(self, m: Any, args: list[int]) -> list[int]:
        """Create a directory inside ``fd``; refused through a read-only preopen."""
        root, code = self._directory(args[0])
        if root is None:
            return [code]
        if not root.writable:
            return [self.ERRNO_PERM]
        path = self._text(m, args[1], args[2])
        with self._entry(root, path) as target:
            os.mkdir(target.at_name, dir_fd=target.dir_fd)
        return [self.ERRNO_SUCCESS]

    def _remove(self, m: Any, args: list[int], remove: Callable[[str, int], None]) -> list[int]:
        root, code = self._directory(args[0])
        if root is None:
            return [code]
        if not root.writable:
            return [self.ERRNO_PERM]
        path = self._text(m, args[1], args[2])
        target = self._slashed(root, path) if path.endswith("/") else self._entry(root, path)
        with target:
            remove(target.at_name, target.dir_fd)
        return [self.ERRNO_SUCCESS]

    def _slashed(self, root: File, path: str) -> Resolved:
        """What a name with a trailing slash means to wasmtime when it removes or links: the directory itself.

        wasmtime (cap-std) resolves ``d/`` whole, following a final link, as a
        directory that must stay inside (``ENOTDIR`` for a file, ``ENOENT``,
        ``ELOOP``, ``EPERM`` as a lookup answers), then acts on ``"."`` in it:
        so ``rmdir d/`` is ``EINVAL`` (empty or not), ``unlink d/`` ``EISDIR``,
        and a link or symbolic link named ``d/`` ``EEXIST``.
        """
        resolved = self._resolve(root, path, follow=True)
        try:
            return open_directory(resolved)
        except BaseException:
            resolved.close()
            raise

    def path_remove_directory(self, m: Any, args: list[int]) -> list[int]:
        """Remove a directory inside ``fd``; refused through a read-only preopen."""
        return self._remove(m, args, lambda name, fd: os.rmdir(name, dir_fd=fd))

    def path_unlink_file(self, m: Any, args: list[int]) -> list[int]:
        """Remove a file inside ``fd``; refused through a read-only preopen."""
        return self._remove(m, args, lambda name, fd: os.unlink(name, dir_fd=fd))

    def _two_paths(self, m: Any, old_fd: int, new_fd: int) -> tuple[File, File] | int:
        old_root, code = self._directory(old_fd)
        if old_root is None:
            return code
        new_root, code = self._directory(new_fd)
        if new_root is None:
            return code
        if not (old_root.writable and new_root.writable):
            return int(self.ERRNO_PERM)
        return old_root, new_root

    def path_rename(self, m: Any, args: list[int]) -> list[int]:
        """Rename inside (or between) directories; refused if either is read-only."""
        roots = self._two_paths(m, args[0], args[3])
        if isinstance(roots, int):
            return [roots]
        old_path, new_path = self._text(m, args[1], args[2]), self._text(m, args[4], args[5])
        with self._entry(roots[0], old_path) as old, self._entry(roots[1], new_path) as new:
            os.rename(old.at_name, new.at_name, src_dir_fd=old.dir_fd, dst_dir_fd=new.dir_fd)
        return [self.ERRNO_SUCCESS]

    def path_link(self, m: Any, args: list[int]) -> list[int]:
        """Make a hard link; refused if either directory is read-only."""
        roots = self._two_paths(m, args[0], args[4])
        if isinstance(roots, int):
            return [roots]
        old_path, new_path = self._text(m, args[2], args[3]), self._text(m, args[5], args[6])
        follow = bool(args[1] & self.LOOKUPFLAGS_SYMLINK_FOLLOW)
        old_target = self._resolve(roots[0], old_path, follow=True) if follow else self._entry(roots[0], old_path)
        with old_target as old, self._new_name(roots[1], new_path) as new:
            os.link(old.at_name, new.at_name, src_dir_fd=old.dir_fd, dst_dir_fd=new.dir_fd, follow_symlinks=False)
        return [self.ERRNO_SUCCESS]

    def _new_name(self, root: File, path: str) -> Resolved:
        """Where ``path_link`` and ``path_symlink`` put a new name; with a trailing slash, see :meth:`_slashed`.

        So ``f/`` over a file is ``ENOTDIR`` (as wasmtime's WASI tests require),
        a dangling link ``ENOENT``, a link leading out ``EPERM``, a directory
        ``EEXIST``; Linux alone would answer ``EEXIST`` for all of them.
        """
        return self._slashed(root, path) if path.endswith("/") else self._entry(root, path)

    def path_symlink(self, m: Any, args: list[int]) -> list[int]:
        """Make a symbolic link inside ``fd``; absolute targets and read-only preopens refused (EPERM)."""
        root, code = self._directory(args[2])
        if root is None:
            return [code]
        if not root.writable:
            return [self.ERRNO_PERM]
        contents, path = self._text(m, args[0], args[1]), self._text(m, args[3], args[4])
        if contents.startswith("/"):
            return [self.ERRNO_PERM]
        with self._new_name(root, path) as target:
            os.symlink(contents, target.at_name, dir_fd=target.dir_fd)
        return [self.ERRNO_SUCCESS]

    # -- time and exit ------------------------------------------------------------

    def poll_oneoff(self, m: Any, args: list[int]) -> list[int]:
        """Wait for clocks or descriptors, never past the run's deadline."""
        subs, outs, nsub, nout = args
        mems = self._memory(m)
        clocks: list[tuple[int, int, int]] = []  # userdata, clock id, absolute end in that clock's ns
        ready: list[tuple[int, int]] = []  # userdata, event type
        waits: list[tuple[int, int, int]] = []  # userdata, event type, host fd
        for i in range(nsub):
            addr = subs + i * 48
            userdata = mems.get_u64(addr)
            kind = mems.get_u8(addr + 8)
            if kind == self.EVENTTYPE_CLOCK:
                clock = mems.get_u32(addr + 16)
                value = mems.get_u64(addr + 24)
                absolute = mems.get_u16(addr + 40) & self.SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME
                clocks.append((userdata, clock, value if absolute else self.help_time(clock) + value))
            elif kind in (self.EVENTTYPE_FD_READ, self.EVENTTYPE_FD_WRITE):
                fd = mems.get_u32(addr + 16)
                if self.help_badf(fd):
                    return [self.ERRNO_BADF]
                file = self.fd[fd]
                if file.wasm_type == self.FILETYPE_DIRECTORY or self._wrong_way(fd, reading=kind == self.EVENTTYPE_FD_READ):
                    return [self.ERRNO_BADF]
                if kind == self.EVENTTYPE_FD_WRITE and not file.writable:
                    return [self.ERRNO_PERM]  # wasmtime: waiting to write is a change, refused in a read-only preopen
                if file.pipe is not None or file.wasm_type in (self.FILETYPE_REGULAR_FILE, self.FILETYPE_DIRECTORY):
                    ready.append((userdata, kind))
                else:
                    waits.append((userdata, kind, file.host_fd))
            else:
                return [self.ERRNO_INVAL]
        if not ready:
            timeout = min((max(0, end - self.help_time(clock)) / 1e9 for _, clock, end in clocks), default=None)
            if self.deadline is not None:
                # the watchdog stops the guest at the deadline, once this wait has returned
                until_deadline = max(0.0, self.deadline - time.monotonic()) + 0.01
                timeout = until_deadline if timeout is None else min(timeout, until_deadline)
            readable = [fd for _, kind, fd in waits if kind == self.EVENTTYPE_FD_READ]
            writable = [fd for _, kind, fd in waits if kind == self.EVENTTYPE_FD_WRITE]
            if readable or writable:
                can_read, can_write, _ = select.select(readable, writable, [], timeout)
                ready += [(u, k) for u, k, fd in waits if fd in (can_read if k == self.EVENTTYPE_FD_READ else can_write)]
            elif timeout is not None:
                time.sleep(timeout)
        events = list(ready)
        events += [(userdata, self.EVENTTYPE_CLOCK) for userdata, clock, end in clocks if self.help_time(clock) >= end]
        for i, (userdata, kind) in enumerate(events[:nsub]):
            out = outs + i * 32
            mems.put(out, bytearray(32))
            mems.put_u64(out, userdata)
            mems.put_u16(out + 8, self.ERRNO_SUCCESS)
            mems.put_u8(out + 10, kind)
        mems.put_u32(nout, len(events[:nsub]))
        return [self.ERRNO_SUCCESS]

    def proc_exit(self, m: Any, args: list[int]) -> None:
        """Stop the guest with its exit status (wasmtime treats a status outside [0, 126) as an error)."""
        status = args[0]
        if not 0 <= status < _EXIT_STATUS_LIMIT:
            raise HostTrap(TrapKind.UNREACHABLE, f"exit with invalid exit status {status} outside of [0..126)")
        raise GuestExit(status)


def _guarded(name: str, function: Callable[[Any, list[int]], list[int]]) -> Callable[[Any, list[int]], list[int]]:
    """Wrap a WASI function as wasmtime behaves around one.

    A guest without an exported ``memory`` traps before the call; a host
    ``OSError`` becomes its errno, undecodable text ``EILSEQ``, and anything
    else a trap.
    """

    def call(machine: Any, args: list[int]) -> list[int]:
        if exported_memory(machine) is None:
            raise HostTrap(TrapKind.UNREACHABLE, MISSING_MEMORY)
        try:
            return function(machine, args)
        except GuestStop:
            raise
        except PathError as exc:
            return [wasi_errno(exc.errno)]
        except OSError as exc:
            return [wasi_errno(exc.errno)]
        except UnicodeError:
            return [Preview1.ERRNO_ILSEQ]
        except Exception as exc:
            raise HostTrap(TrapKind.UNREACHABLE, f"WASI {name} failed: {type(exc).__name__}: {exc}") from exc

    return call
