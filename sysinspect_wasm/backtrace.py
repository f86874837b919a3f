"""A trapped guest's backtrace in words: function names and source lines for the raw frames of a run.

Both backends report a trap's call stack as raw :class:`~.traps.Frame` values
(function index, byte offset in the module as its author built it). This module
turns them into what a module's author reads, from the module's own bytes and
nothing else, so both backends' frames read the same:

* the name of each function comes from the module's ``name`` section,
  demangled where it is a Rust symbol (as wasmtime shows it), else it is
  ``<wasm function N>``;
* where the module carries DWARF (built with ``-g``, Zig's safe modes, Rust's
  ``debug = true``), each frame gets its source file, line and column, and the
  frames the compiler inlined into it, innermost first. pyelftools reads the
  raw ``.debug_*`` custom sections; DWARF addresses in a WebAssembly module
  are offsets from the start of the code section's payload.

Only a trap pays for this: nothing on a run's path imports this module, and
it imports pyelftools only when a module has DWARF sections.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from .records import FrozenRecord
from .traps import Frame
from .wasmbinary import SECTION_CODE, DecodeError, custom_sections, read_sections, read_u

MAX_FRAMES = 64
"""Frames resolved and shown at most (a stack overflow has a thousand); the rest are counted."""

_NAME_SECTION = "name"
_FUNCTION_NAMES = 1


class Location(FrozenRecord):
    """One source position of a frame: the function it lies in and, where DWARF says, its file, line and column.

    ``inlined`` is true for a function the compiler inlined into the frame's own function.
    """

    __match_args__ = ("function", "file", "line", "column", "inlined")
    function: str
    file: str
    line: int
    column: int
    inlined: bool

    def __init__(self, function: str, file: str, line: int, column: int, inlined: bool) -> None:
        self.__dict__.update(function=function, file=file, line=line, column=column, inlined=inlined)

    def where(self) -> str:
        """``file:line:column`` (``file:line`` when the column is unknown)."""
        return f"{self.file}:{self.line}:{self.column}" if self.column else f"{self.file}:{self.line}"


class ResolvedFrame(FrozenRecord):
    """A raw frame with its function's name and its source locations (innermost first; empty without DWARF)."""

    __match_args__ = ("frame", "name", "locations")
    frame: Frame
    name: str
    locations: tuple[Location, ...]

    def __init__(self, frame: Frame, name: str, locations: tuple[Location, ...] = ()) -> None:
        self.__dict__.update(frame=frame, name=name, locations=locations)

    @property
    def named(self) -> bool:
        """True when the module names the function (rather than only its index)."""
        return not self.name.startswith("<wasm function ")


class Backtrace(FrozenRecord):
    """The resolved frames of a trap, innermost first, and how many more were left out."""

    __match_args__ = ("frames", "omitted")
    frames: tuple[ResolvedFrame, ...]
    omitted: int

    def __init__(self, frames: tuple[ResolvedFrame, ...], omitted: int = 0) -> None:
        self.__dict__.update(frames=frames, omitted=omitted)

    def innermost_named(self) -> ResolvedFrame | None:
        """The innermost frame whose function has a name, if any."""
        return next((frame for frame in self.frames if frame.named), None)

    def summary(self) -> str:
        """``in NAME (FILE:LINE)`` for the innermost named frame ("" when no frame has a name).

        The file is its last path component: the message is one line; the full
        path is in :meth:`lines`.
        """
        frame = self.innermost_named()
        if frame is None:
            return ""
        if not frame.locations:
            return f"in {frame.name}"
        where = frame.locations[0]
        return f"in {frame.name} ({where.file.rsplit('/', 1)[-1]}:{where.line})"

    def lines(self) -> list[str]:
        """The backtrace as text lines, innermost frame first (what ``wasm-runtime run`` prints)."""
        out = []
        for number, frame in enumerate(self.frames):
            raw = frame.frame
            out.append(f"  {number}: {frame.name} (function {raw.func_index}, module offset 0x{raw.module_offset:x})")
            for location in frame.locations:
                prefix = f"inlined {location.function} at" if location.inlined else "at"
                out.append(f"       {prefix} {location.where()}")
        if self.omitted:
            out.append(f"  ... {self.omitted} more frames")
        return out


def resolve(frames: Sequence[Frame], wasm: bytes) -> Backtrace:
    """Names and source locations for ``frames`` of module ``wasm`` (innermost first).

    Never raises for a module it cannot read: what cannot be decoded is left
    out (a frame keeps its index and offset), since a backtrace is a help, and
    the trap it explains must still be reported.
    """
    shown = tuple(frames[:MAX_FRAMES])
    try:
        sections = custom_sections(wasm)
    except (DecodeError, IndexError):
        sections = {}
    names = function_names(sections.get(_NAME_SECTION, b""))
    lines = DebugLines.of(wasm, sections)
    resolved = []
    for frame in shown:
        name = names.get(frame.func_index)
        locations = lines.locations(frame.module_offset) if lines is not None else ()
        if name is None:
            name = locations[-1].function if locations else f"<wasm function {frame.func_index}>"
        resolved.append(ResolvedFrame(frame, name, locations))
    return Backtrace(tuple(resolved), len(frames) - len(shown))


# -- the name section ------------------------------------------------------------


def function_names(payload: bytes) -> dict[int, str]:
    """Function index -> demangled name, from the payload of a ``name`` custom section (empty where unreadable)."""
    names: dict[int, str] = {}
    pos = 0
    try:
        while pos < len(payload):
            kind = payload[pos]
            size, pos = read_u(payload, pos + 1)
            end = pos + size
            if kind == _FUNCTION_NAMES:
                count, at = read_u(payload, pos)
                for _ in range(count):
                    index, at = read_u(payload, at)
                    length, at = read_u(payload, at)
                    if at + length > end:
                        raise DecodeError("a function name runs past its subsection")
                    names[index] = demangle(payload[at : at + length].decode("utf-8", "replace"))
                    at += length
            pos = end
    except (DecodeError, IndexError):
        pass  # keep the names read so far
    return names


_RUST_ESCAPES = {"SP": "@", "BP": "*", "RF": "&", "LT": "<", "GT": ">", "LP": "(", "RP": ")", "C": ","}
_RUST_ESCAPE = re.compile(r"\$([A-Z]{1,2}|u[0-9a-f]{1,6})\$")


def demangle(name: str) -> str:
    """A Rust (legacy mangling) or C++ symbol as wasmtime shows it; any other name unchanged.

    ``_ZN9trapchain12divide_share17h0123456789abcdefE`` ->
    ``trapchain::divide_share::h0123456789abcdef`` (the hash included, as wasmtime shows it);
    ``_ZN6shares6divideIiEET_S1_S1_`` -> ``int shares::divide<int>(int, int)``.
    """
    rust = _demangle_rust(name)
    if rust is not None:
        return rust
    if name.startswith("_Z"):
        return _demangle_cpp(name) or name
    return name


def _demangle_rust(name: str) -> str | None:
    symbol = name[1:] if name.startswith("__ZN") else name
    if not symbol.startswith("_ZN"):
        return None
    symbol = symbol.split(".llvm.", 1)[0]
    parts = []
    pos = 3
    while pos < len(symbol) and symbol[pos] != "E":
        digits = pos
        while pos < len(symbol) and symbol[pos].isdigit():
            pos += 1
        if digits == pos:
            return None
        length = int(symbol[digits:pos])
        if length == 0 or pos + length > len(symbol):
            return None
        parts.append(_rust_ident(symbol[pos : pos + length]))
        pos += length
    if pos != len(symbol) - 1 or not parts:
        return None
    return "::".join(parts)


_CXA: list[Any] = []  # the C++ runtime's demangler, once looked up (None: there is none)


def _demangle_cpp(name: str) -> str | None:
    """An Itanium C++ symbol demangled by the C++ runtime's own ``__cxa_demangle`` (None: not demangled).

    C++ names in a module's name section are already demangled (wasm-ld writes
    them so); DWARF keeps the mangled linkage names. A C++ runtime library is
    on almost every host; where there is none, the mangled name is shown.
    """
    if not _CXA:
        import ctypes
        import ctypes.util

        function = None
        for library in (ctypes.util.find_library("stdc++"), "libstdc++.so.6", ctypes.util.find_library("c++")):
            if not library:
                continue
            try:
                function = ctypes.CDLL(library).__cxa_demangle
            except (OSError, AttributeError):
                continue
            function.restype = ctypes.c_void_p
            function.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
            break
        _CXA.append(function)
    function = _CXA[0]
    if function is None:
        return None
    import ctypes

    status = ctypes.c_int(1)
    pointer = function(name.encode("utf-8", "replace"), None, None, ctypes.byref(status))
    if not pointer or status.value != 0:
        return None
    try:
        return ctypes.string_at(pointer).decode("utf-8", "replace")
    finally:
        ctypes.CDLL(None).free(ctypes.c_void_p(pointer))


def _rust_ident(ident: str) -> str:
    if ident.startswith("_$"):
        ident = ident[1:]

    def escape(match: re.Match[str]) -> str:
        code = match.group(1)
        if code.startswith("u"):
            return chr(int(code[1:], 16))
        return _RUST_ESCAPES.get(code, match.group(0))

    return _RUST_ESCAPE.sub(escape, ident.replace("..", "::"))


# -- DWARF -----------------------------------------------------------------------

_DEBUG_SECTIONS = ("info", "aranges", "abbrev", "frame", None, "str", "loc", "ranges", "line", "pubtypes", "pubnames",
                   "addr", "str_offsets", "line_str", "loclists", "rnglists", "sup", None, "types")
"""The sections DWARFInfo takes, in the order of its parameters (``None``: no WebAssembly equivalent)."""

_FUNCTIONS = ("DW_TAG_subprogram", "DW_TAG_inlined_subroutine")
_SCOPES = ("DW_TAG_namespace", "DW_TAG_lexical_block", "DW_TAG_module", "DW_TAG_structure_type",
           "DW_TAG_class_type", "DW_TAG_union_type", "DW_TAG_enumeration_type")


class DebugLines:
    """The DWARF of one module: code offsets to inlined functions and source positions."""

    def __init__(self, dwarf: Any, code_start: int) -> None:
        self._dwarf = dwarf
        self._code_start = code_start

    @classmethod
    def of(cls, wasm: bytes, sections: dict[str, bytes]) -> DebugLines | None:
        """The DWARF of ``wasm`` (``None``: it has none, or pyelftools is missing)."""
        if ".debug_info" not in sections or ".debug_line" not in sections:
            return None
        try:
            code = next(s for s in read_sections(wasm) if s.id == SECTION_CODE)
        except (StopIteration, DecodeError, IndexError):
            return None
        try:
            import io

            from elftools.dwarf.dwarfinfo import DebugSectionDescriptor, DwarfConfig, DWARFInfo
        except ImportError:
            return None

        def descriptor(name: str | None) -> Any:
            payload = None if name is None else sections.get(f".debug_{name}")
            if payload is None:
                return None
            return DebugSectionDescriptor(io.BytesIO(payload), f".debug_{name}", None, len(payload), 0)

        config = DwarfConfig(little_endian=True, machine_arch="wasm", default_address_size=4)
        try:
            dwarf = DWARFInfo(config, *(descriptor(name) for name in _DEBUG_SECTIONS))
        except Exception:  # pyelftools raises many kinds on malformed DWARF: then there is none
            return None
        return cls(dwarf, code.payload_start)

    def locations(self, module_offset: int) -> tuple[Location, ...]:
        """The source locations of the instruction at ``module_offset``, innermost (inlined) first."""
        address = module_offset - self._code_start
        try:
            return self._locations(address)
        except Exception:  # malformed or unsupported DWARF: the frame keeps its name and offset
            return ()

    def _locations(self, address: int) -> tuple[Location, ...]:
        for cu in self._dwarf.iter_CUs():
            top = cu.get_top_DIE()
            if not _contains(self._dwarf, top, address, cu):
                continue
            program = self._dwarf.line_program_for_CU(cu)
            if program is None:
                continue
            row = _line_row(program, address)
            if row is None:
                continue
            comp_dir = _text(top.attributes.get("DW_AT_comp_dir"))
            chain = _function_chain(self._dwarf, top, address, cu)
            file = _file_name(program, row.file, comp_dir)
            if not chain:
                return (Location("", file, row.line, row.column, False),)
            found = [Location(_die_name(chain[-1]), file, row.line, row.column, len(chain) > 1)]
            for depth in range(len(chain) - 1, 0, -1):
                site = chain[depth].attributes
                found.append(Location(
                    _die_name(chain[depth - 1]),
                    _file_name(program, _int(site.get("DW_AT_call_file")), comp_dir),
                    _int(site.get("DW_AT_call_line")),
                    _int(site.get("DW_AT_call_column")),
                    depth - 1 > 0,
                ))
            return tuple(found)
        return ()


def _int(attribute: Any) -> int:
    return int(attribute.value) if attribute is not None else 0


def _text(attribute: Any) -> str:
    if attribute is None:
        return ""
    value = attribute.value
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _ranges(dwarf: Any, die: Any, cu: Any) -> Iterator[tuple[int, int]]:
    """The address ranges a DIE covers (none: it says nothing about addresses)."""
    attributes = die.attributes
    low = attributes.get("DW_AT_low_pc")
    high = attributes.get("DW_AT_high_pc")
    if low is not None and high is not None:
        end = high.value if high.form == "DW_FORM_addr" else low.value + high.value
        yield low.value, end
    if "DW_AT_ranges" in attributes:
        base = low.value if low is not None else _cu_base(cu)
        for entry in dwarf.range_lists().get_range_list_at_offset(attributes["DW_AT_ranges"].value, cu=cu):
            if not hasattr(entry, "begin_offset"):  # a base address entry
                base = entry.base_address
                continue
            if getattr(entry, "is_absolute", False):
                yield entry.begin_offset, entry.end_offset
            else:
                yield base + entry.begin_offset, base + entry.end_offset


def _cu_base(cu: Any) -> int:
    low = cu.get_top_DIE().attributes.get("DW_AT_low_pc")
    return int(low.value) if low is not None else 0


def _contains(dwarf: Any, die: Any, address: int, cu: Any) -> bool:
    return any(low <= address < high for low, high in _ranges(dwarf, die, cu))


def _function_chain(dwarf: Any, scope: Any, address: int, cu: Any) -> list[Any]:
    """The subprogram holding ``address`` and the inlined subroutines in it that do too, outermost first."""
    chain: list[Any] = []
    pending = [scope]
    while pending:
        parent = pending.pop()
        for child in parent.iter_children():
            tag = child.tag
            if tag in _FUNCTIONS:
                if _contains(dwarf, child, address, cu):
                    chain.append(child)
                    pending = [child]
                    break
            elif tag in _SCOPES and (tag != "DW_TAG_lexical_block" or _contains(dwarf, child, address, cu)):
                pending.append(child)
    return chain


def _die_name(die: Any) -> str:
    """A function DIE's name as wasmtime shows it: its linkage name demangled, else its plain name."""
    seen = 0
    while die is not None and seen < 8:
        attributes = die.attributes
        for key in ("DW_AT_linkage_name", "DW_AT_MIPS_linkage_name"):
            if key in attributes:
                return demangle(_text(attributes[key]))
        if "DW_AT_name" in attributes:
            return _text(attributes["DW_AT_name"])
        origin = next((k for k in ("DW_AT_abstract_origin", "DW_AT_specification") if k in attributes), None)
        die = die.get_DIE_from_attribute(origin) if origin else None
        seen += 1
    return ""


def _line_row(program: Any, address: int) -> Any:
    """The line-table row that covers ``address`` (the last row at or before it in its sequence)."""
    best = None
    previous = None
    for entry in program.get_entries():
        state = entry.state
        if state is None:
            continue
        if previous is not None and previous.address <= address < state.address and (
                best is None or previous.address >= best.address):
            best = previous
        previous = None if state.end_sequence else state
    return best


def _join(base: str, path: str) -> str:
    if not base or path.startswith("/"):
        return path
    return f"{base.rstrip('/')}/{path}"


def _file_name(program: Any, index: int, comp_dir: str) -> str:
    """File ``index`` of a line program as a path: the compilation folder, the file's folder, its name."""
    header = program.header
    version = header["version"]
    files = header["file_entry"]
    position = index if version >= 5 else index - 1
    if not 0 <= position < len(files):
        return "<unknown file>"
    entry = files[position]
    path = comp_dir
    directory = entry.dir_index
    if directory != 0:
        folders = header["include_directory"]
        at = directory if version >= 5 else directory - 1
        if 0 <= at < len(folders):
            path = _join(path, _decoded(folders[at]))
    return _join(path, _decoded(entry.name))


def _decoded(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
