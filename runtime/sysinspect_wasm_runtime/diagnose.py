"""Backend-neutral explanations of why a module cannot be loaded or linked.

The two backends word their load and link errors differently, but a response
must not depend on the backend. On those (rare) failure paths the runtime
reads the module's import and export sections itself and says, in its own
words, what is missing.
"""

from __future__ import annotations

from sysinspect_wasm.hostapi import API_MODULE, HOST_FUNCTIONS

WASM_MAGIC = b"\0asm"
WASI_MODULE = "wasi_snapshot_preview1"
WASI_FUNCTIONS = frozenset([
    "args_get", "args_sizes_get", "environ_get", "environ_sizes_get", "clock_res_get", "clock_time_get",
    "fd_advise", "fd_allocate", "fd_close", "fd_datasync", "fd_fdstat_get", "fd_fdstat_set_flags",
    "fd_fdstat_set_rights", "fd_filestat_get", "fd_filestat_set_size", "fd_filestat_set_times", "fd_pread",
    "fd_prestat_get", "fd_prestat_dir_name", "fd_pwrite", "fd_read", "fd_readdir", "fd_renumber", "fd_seek",
    "fd_sync", "fd_tell", "fd_write", "path_create_directory", "path_filestat_get",
    "path_filestat_set_times", "path_link", "path_open", "path_readlink", "path_remove_directory",
    "path_rename", "path_symlink", "path_unlink_file", "poll_oneoff", "proc_exit", "proc_raise",
    "sched_yield", "random_get", "sock_accept", "sock_recv", "sock_send", "sock_shutdown",
])

_VALTYPES = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x7B: "v128", 0x70: "funcref", 0x6F: "externref"}
_KINDS = {0: "function", 1: "table", 2: "memory", 3: "global", 4: "tag"}


class _Reader:
    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def byte(self) -> int:
        if self.pos >= self.end:
            raise ValueError("truncated")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def uleb(self) -> int:
        result = shift = 0
        while True:
            byte = self.byte()
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result
            if shift > 63:
                raise ValueError("bad LEB128")

    def name(self) -> str:
        length = self.uleb()
        if self.pos + length > self.end:
            raise ValueError("truncated")
        raw = self.data[self.pos : self.pos + length]
        self.pos += length
        return raw.decode("utf-8", "replace")

    def valtype(self) -> str:
        return _VALTYPES.get(self.byte(), "?")

    def limits(self) -> None:
        flags = self.byte()
        self.uleb()
        if flags & 1:
            self.uleb()
        if flags & 0x08:
            self.uleb()


def _sections(data: bytes) -> dict[int, tuple[int, int]]:
    reader = _Reader(data, 8)
    sections: dict[int, tuple[int, int]] = {}
    while reader.pos < reader.end:
        section_id = reader.byte()
        size = reader.uleb()
        if reader.pos + size > reader.end:
            raise ValueError("truncated")
        sections.setdefault(section_id, (reader.pos, reader.pos + size))
        reader.pos += size
    return sections


def _types(data: bytes, span: tuple[int, int] | None) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    if span is None:
        return []
    reader = _Reader(data, *span)
    types = []
    for _ in range(reader.uleb()):
        if reader.byte() != 0x60:
            raise ValueError("unsupported type form")
        params = tuple(reader.valtype() for _ in range(reader.uleb()))
        results = tuple(reader.valtype() for _ in range(reader.uleb()))
        types.append((params, results))
    return types


def _imports(data: bytes, span: tuple[int, int] | None, types: list[tuple[tuple[str, ...], tuple[str, ...]]]) -> list[tuple[str, str, str, tuple[tuple[str, ...], tuple[str, ...]] | None]]:
    if span is None:
        return []
    reader = _Reader(data, *span)
    imports = []
    for _ in range(reader.uleb()):
        module, name, kind = reader.name(), reader.name(), reader.byte()
        signature = None
        if kind == 0:
            index = reader.uleb()
            signature = types[index] if index < len(types) else None
        elif kind == 1:
            reader.byte()
            reader.limits()
        elif kind == 2:
            reader.limits()
        elif kind == 3:
            reader.byte()
            reader.byte()
        elif kind == 4:
            reader.byte()
            reader.uleb()
        else:
            raise ValueError("unknown import kind")
        imports.append((module, name, _KINDS.get(kind, "import"), signature))
    return imports


def _exports(data: bytes, span: tuple[int, int] | None) -> dict[str, str]:
    if span is None:
        return {}
    reader = _Reader(data, *span)
    exports = {}
    for _ in range(reader.uleb()):
        name, kind = reader.name(), reader.byte()
        reader.uleb()
        exports[name] = _KINDS.get(kind, "export")
    return exports


def _signature(sig: tuple[tuple[str, ...], tuple[str, ...]]) -> str:
    return f"({', '.join(sig[0])}) -> ({', '.join(sig[1])})"


def link_problem(data: bytes) -> str | None:
    """Why a module that loaded cannot be linked and started, or ``None`` when no reason is found.

    Names the first import this runtime does not provide (or provides with
    another signature), or a missing ``_start`` export.
    """
    try:
        sections = _sections(data)
        types = _types(data, sections.get(1))
        imports = _imports(data, sections.get(2), types)
        exports = _exports(data, sections.get(7))
    except (ValueError, IndexError):
        return None
    for module, name, kind, signature in imports:
        if module == API_MODULE and kind == "function" and name in HOST_FUNCTIONS:
            expected = HOST_FUNCTIONS[name]
            if signature is not None and signature != expected:
                return (f"the module imports {module}.{name} as {_signature(signature)}, "
                        f"but the host provides {_signature(expected)}")
            continue
        if module == WASI_MODULE and kind == "function" and name in WASI_FUNCTIONS:
            continue
        return f"the module imports {kind} {module}.{name}, which this runtime does not provide"
    if exports.get("_start") != "function":
        return "the module exports no _start function: it is not a WASI command"
    return None


def load_problem(data: bytes) -> str:
    """Why bytes that failed to load are not a usable module, in words that do not depend on the backend."""
    if len(data) < 8 or not data.startswith(WASM_MAGIC):
        return "the file is not a WebAssembly binary (it does not start with the bytes \\0asm)"
    if data[4:8] != b"\x01\0\0\0":
        return "the file is not a WebAssembly core module of version 1"
    try:
        _sections(data)
    except ValueError:
        return "the file is truncated or its sections are malformed"
    return "the module does not validate as WebAssembly"
