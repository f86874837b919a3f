"""``--trace``: one line per WASI and host API call a guest makes, written as the call returns.

Both backends hand each returning call to a :class:`CallTrace`: a
``wasi_snapshot_preview1`` call with its raw arguments, its errno and a
reader of the guest's memory as the call left it; an ``api`` call as the
:class:`~.result.HostCall` the host API recorded. The arguments are decoded
here, once, for both backends: descriptors, paths as text, the bytes written
or read, flags by name, the errno by name, what the call wrote back (the
descriptor opened, the bytes read, the new offset). A deterministic module
therefore traces the same lines on both backends, which ``wasm-runtime diff
--trace`` compares.

A run without ``--trace`` never imports this module.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence

from .result import HostCall

WASI_MODULE = "wasi_snapshot_preview1"

SHOWN = 64
"""Bytes of a buffer, or characters of a text, a line shows (the rest is counted)."""

MemoryReader = Callable[[int, int], bytes]
"""``read(ptr, length)``: guest memory as the call left it (short or empty where it is out of bounds)."""

ERRNO_NAMES = (
    "SUCCESS", "2BIG", "ACCES", "ADDRINUSE", "ADDRNOTAVAIL", "AFNOSUPPORT", "AGAIN", "ALREADY", "BADF", "BADMSG",
    "BUSY", "CANCELED", "CHILD", "CONNABORTED", "CONNREFUSED", "CONNRESET", "DEADLK", "DESTADDRREQ", "DOM", "DQUOT",
    "EXIST", "FAULT", "FBIG", "HOSTUNREACH", "IDRM", "ILSEQ", "INPROGRESS", "INTR", "INVAL", "IO", "ISCONN", "ISDIR",
    "LOOP", "MFILE", "MLINK", "MSGSIZE", "MULTIHOP", "NAMETOOLONG", "NETDOWN", "NETRESET", "NETUNREACH", "NFILE",
    "NOBUFS", "NODEV", "NOENT", "NOEXEC", "NOLCK", "NOLINK", "NOMEM", "NOMSG", "NOPROTOOPT", "NOSPC", "NOSYS",
    "NOTCONN", "NOTDIR", "NOTEMPTY", "NOTRECOVERABLE", "NOTSOCK", "NOTSUP", "NOTTY", "NXIO", "OVERFLOW", "OWNERDEAD",
    "PERM", "PIPE", "PROTO", "PROTONOSUPPORT", "PROTOTYPE", "RANGE", "ROFS", "SPIPE", "SRCH", "STALE", "TIMEDOUT",
    "TXTBSY", "XDEV", "NOTCAPABLE",
)
"""WASI preview 1 errno values by number (``errno`` in the witx), without the leading ``E``."""

_FLAGS = {
    "oflags": ("CREAT", "DIRECTORY", "EXCL", "TRUNC"),
    "fdflags": ("APPEND", "DSYNC", "NONBLOCK", "RSYNC", "SYNC"),
    "lookupflags": ("SYMLINK_FOLLOW",),
    "fstflags": ("ATIM", "ATIM_NOW", "MTIM", "MTIM_NOW"),
}
_ENUMS = {
    "whence": ("SET", "CUR", "END"),
    "clockid": ("REALTIME", "MONOTONIC", "PROCESS_CPUTIME_ID", "THREAD_CPUTIME_ID"),
}

# What each parameter is, in order; a parameter of kind "path", "ciovs", "iovs" or "buf" takes two raw
# arguments (pointer and length). "outN:name" is a pointer to an N-byte result the call writes.
_WASI: dict[str, tuple[str, ...]] = {
    "args_get": ("ptr:argv", "ptr:argv_buf"),
    "args_sizes_get": ("out4:argc", "out4:argv_buf_size"),
    "environ_get": ("ptr:environ", "ptr:environ_buf"),
    "environ_sizes_get": ("out4:count", "out4:buf_size"),
    "clock_res_get": ("clockid", "out8:resolution"),
    "clock_time_get": ("clockid", "int:precision", "out8:time"),
    "fd_advise": ("fd", "int:offset", "int:len", "int:advice"),
    "fd_allocate": ("fd", "int:offset", "int:len"),
    "fd_close": ("fd",),
    "fd_datasync": ("fd",),
    "fd_fdstat_get": ("fd", "ptr:stat"),
    "fd_fdstat_set_flags": ("fd", "fdflags"),
    "fd_fdstat_set_rights": ("fd", "rights:base", "rights:inheriting"),
    "fd_filestat_get": ("fd", "ptr:stat"),
    "fd_filestat_set_size": ("fd", "int:size"),
    "fd_filestat_set_times": ("fd", "int:atim", "int:mtim", "fstflags"),
    "fd_pread": ("fd", "iovs", "int:offset", "out4:nread"),
    "fd_prestat_get": ("fd", "ptr:prestat"),
    "fd_prestat_dir_name": ("fd", "dirname"),
    "fd_pwrite": ("fd", "ciovs", "int:offset", "out4:nwritten"),
    "fd_read": ("fd", "iovs", "out4:nread"),
    "fd_readdir": ("fd", "buf", "int:cookie", "out4:bufused"),
    "fd_renumber": ("fd", "fd:to"),
    "fd_seek": ("fd", "sint:offset", "whence", "out8:offset"),
    "fd_sync": ("fd",),
    "fd_tell": ("fd", "out8:offset"),
    "fd_write": ("fd", "ciovs", "out4:nwritten"),
    "path_create_directory": ("fd", "path"),
    "path_filestat_get": ("fd", "lookupflags", "path", "ptr:stat"),
    "path_filestat_set_times": ("fd", "lookupflags", "path", "int:atim", "int:mtim", "fstflags"),
    "path_link": ("fd", "lookupflags", "path", "fd:new_fd", "path:new_path"),
    "path_open": ("fd", "lookupflags", "path", "oflags", "rights:base", "rights:inheriting", "fdflags", "out4:fd"),
    "path_readlink": ("fd", "path", "buf", "out4:bufused"),
    "path_remove_directory": ("fd", "path"),
    "path_rename": ("fd", "path", "fd:new_fd", "path:new_path"),
    "path_symlink": ("path:old_path", "fd", "path:new_path"),
    "path_unlink_file": ("fd", "path"),
    "poll_oneoff": ("ptr:in", "ptr:out", "int:nsubscriptions", "out4:nevents"),
    "proc_exit": ("int:code",),
    "proc_raise": ("int:signal",),
    "sched_yield": (),
    "random_get": ("buf",),
    "sock_accept": ("fd", "fdflags", "out4:fd"),
    "sock_recv": ("fd", "iovs", "int:flags", "out4:size", "out2:flags"),
    "sock_send": ("fd", "ciovs", "int:flags", "out4:size"),
    "sock_shutdown": ("fd", "int:how"),
}
_PAIRED = ("path", "ciovs", "iovs", "buf", "dirname")


def errno_name(errno: int) -> str:
    """``ESUCCESS``, ``ENOENT``... for a WASI errno (the number itself where it is none of them)."""
    return f"E{ERRNO_NAMES[errno]}" if 0 <= errno < len(ERRNO_NAMES) else str(errno)


def _bytes(data: bytes, total: int | None = None) -> str:
    total = len(data) if total is None else total
    shown = repr(data[:SHOWN])
    return f"{shown} ({total} bytes)" if total > SHOWN or total != len(data) else shown


def _text(data: bytes) -> str:
    text = data.decode("utf-8", "replace")
    return repr(text if len(text) <= SHOWN else text[:SHOWN] + "...")


def _flags(kind: str, value: int) -> str:
    names = [name for bit, name in enumerate(_FLAGS[kind]) if value & (1 << bit)]
    rest = value & ~((1 << len(_FLAGS[kind])) - 1)
    if rest:
        names.append(hex(rest))
    return "|".join(names) or "0"


def _u32(read: MemoryReader, ptr: int, size: int = 4) -> int | None:
    data = read(ptr, size)
    if len(data) != size:
        return None
    return int.from_bytes(data, "little")


def _iovecs(read: MemoryReader, ptr: int, count: int) -> list[tuple[int, int]]:
    vectors = []
    for index in range(min(count, 1024)):
        entry = read(ptr + 8 * index, 8)
        if len(entry) != 8:
            break
        vectors.append(struct.unpack("<II", entry))
    return vectors


def _gathered(read: MemoryReader, vectors: list[tuple[int, int]], limit: int) -> bytes:
    """Up to ``limit`` bytes (and at most :data:`SHOWN` + 1) from the buffers ``vectors`` describe, in order."""
    out = bytearray()
    for buf, length in vectors:
        room = min(limit, SHOWN + 1) - len(out)
        if room <= 0:
            break
        out += read(buf, min(length, room))
    return bytes(out)


class CallTrace:
    """Formats the calls of one run and hands each line to ``write`` (one line, no newline)."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write

    def wasi(self, name: str, args: Sequence[int], errno: int | None, read: MemoryReader) -> None:
        """A ``wasi_snapshot_preview1`` call that returned ``errno`` (``None``: it returned nothing)."""
        self.write(wasi_line(name, args, errno, read))

    def host(self, call: HostCall) -> None:
        """An ``api`` call, as the host API recorded it."""
        self.write(host_line(call))


def wasi_line(name: str, args: Sequence[int], errno: int | None, read: MemoryReader) -> str:
    """The trace line of a ``wasi_snapshot_preview1`` call."""
    kinds = _WASI.get(name)
    shown: list[str] = []
    outputs: list[str] = []
    succeeded = errno == 0
    if kinds is None:
        shown = [str(arg) for arg in args]
    else:
        position = 0
        for kind in kinds:
            base, _, label = kind.partition(":")
            width = 2 if base in _PAIRED else 1
            values = list(args[position : position + width])
            position += width
            if len(values) < width:
                break
            item, out = _decode(base, label, values, read, succeeded, name)
            if item:
                shown.append(item)
            if out:
                outputs.append(out)
    result = "" if errno is None else f" -> {errno_name(errno)}"
    return (f"{WASI_MODULE}.{name}({', '.join(shown)}){result}{''.join(' ' + out for out in outputs)}"
            + _read_data(name, args, errno, read))


def _decode(base: str, label: str, values: list[int], read: MemoryReader, succeeded: bool,
            name: str) -> tuple[str, str]:
    """What one parameter shows in the call, and what it shows after it (an output the call wrote)."""
    value = values[0]
    label = label or base
    if base == "fd":
        return f"{label}={value}", ""
    if base == "sint":
        return f"{label}={value - (1 << 64) if value >= 1 << 63 else value}", ""
    if base in ("int", "ptr"):
        return (f"{label}={value:#x}" if base == "ptr" else f"{label}={value}"), ""
    if base == "rights":
        return f"{label}={value:#x}", ""
    if base in _FLAGS:
        return f"{base}={_flags(base, value)}", ""
    if base in _ENUMS:
        names = _ENUMS[base]
        return f"{base}={names[value] if 0 <= value < len(names) else value}", ""
    if base == "path":
        return f"{label}={_text(read(value, min(values[1], 4096)))}", ""
    if base == "ciovs":
        vectors = _iovecs(read, value, values[1])
        total = sum(length for _buf, length in vectors)
        return f"data={_bytes(_gathered(read, vectors, total), total)}", ""
    if base == "iovs":
        vectors = _iovecs(read, value, values[1])
        return f"iovs={len(vectors)} buffers of {sum(length for _buf, length in vectors)} bytes", ""
    if base == "buf":
        if name == "random_get":
            return f"len={values[1]}", ""
        return f"buf_len={values[1]}", ""
    if base == "dirname":
        return f"len={values[1]}", (f"name={_text(read(value, values[1]))}" if succeeded else "")
    if base.startswith("out"):
        if not succeeded:
            return "", ""
        result = _u32(read, value, int(base[3:]))
        return "", f"{label}={'?' if result is None else result}"
    return f"{label}={value}", ""


def _read_data(name: str, args: Sequence[int], errno: int | None, read: MemoryReader) -> str:
    """What a successful ``fd_read``/``fd_pread`` put in the guest's buffers (for the line's end)."""
    if errno != 0 or name not in ("fd_read", "fd_pread") or len(args) < 4:
        return ""
    vectors = _iovecs(read, args[1], args[2])
    count = _u32(read, args[-1])
    if count is None:
        return ""
    return f" data={_bytes(_gathered(read, vectors, count), count)}"


def host_line(call: HostCall) -> str:
    """The trace line of an ``api`` call."""
    shown = ", ".join(str(arg) for arg in call.args)
    line = f"api.{call.function}({shown})"
    if call.request is not None:
        line += f" request={_text(call.request.encode('utf-8', 'replace'))}"
    if call.result is not None:
        line += f" -> {call.result}"
    if call.output is not None:
        line += f" wrote={_bytes(call.output)}"
    return line
