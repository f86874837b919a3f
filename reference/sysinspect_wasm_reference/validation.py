"""Structural checks pywasm's parser leaves out, and matching imports.

pywasm parses without validating (FINDINGS.md F11). These checks catch the
malformed modules that would otherwise fail later in confusing ways (an
index past the end, an impossible memory, sections out of order, function
and code counts that differ, a minimum above its maximum); the type checking
of code and constant expressions is :mod:`.typecheck`'s. Together they are
the validation of WebAssembly 2.0 (plus extended constant expressions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sysinspect_wasm.errors import WasmRuntimeError
from sysinspect_wasm.spec import MAX_PAGES, WASM_PAGE
from sysinspect_wasm.wasmbinary import DecodeError, read_sections, read_u

KIND_FUNC, KIND_TABLE, KIND_MEMORY, KIND_GLOBAL = 0x00, 0x01, 0x02, 0x03
SECTION_ORDER = (1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 10, 11)
"""The order of the known non-custom sections (the data count section, 12, comes before the code)."""
SECTION_DATA_COUNT = 12
SECTION_FUNCTION, SECTION_TABLE, SECTION_MEMORY, SECTION_CODE = 3, 4, 5, 10


class InvalidModule(ValueError, WasmRuntimeError):
    """The module is not valid WebAssembly."""


class ExplicitZero(int):
    """A declared maximum of 0, in pywasm's limits, where 0 stands for "no maximum" (FINDINGS.md F14).

    It is the number 0 in every comparison of sizes (``size + n <= m``), but
    unequal to pywasm's 0 (``m == 0``, "unbounded") and true (``m or
    default``), so pywasm's ``table.grow`` and import matching, and our
    ``memory.grow`` hook, treat it as the bound it is.
    """

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExplicitZero)

    def __ne__(self, other: object) -> bool:
        return not isinstance(other, ExplicitZero)

    __hash__ = int.__hash__

    def __bool__(self) -> bool:
        return True


def _check_limits(data: bytes, pos: int, *, table: bool) -> None:
    """Every table's or memory's minimum is at most its maximum."""
    count, pos = read_u(data, pos)
    for _ in range(count):
        if table:
            pos += 1  # the element type
        flags, pos = read_u(data, pos)
        minimum, pos = read_u(data, pos)
        if flags & 0x01:
            maximum, pos = read_u(data, pos)
            if minimum > maximum:
                raise InvalidModule("size minimum must not be greater than maximum")


@dataclass(frozen=True)
class SectionFacts:
    """What :func:`check_sections` read that pywasm's parse loses."""

    data_count: int | None
    """The data count section's value (``None``: no such section)."""


def check_sections(data: bytes) -> SectionFacts:
    """Check the section framing pywasm does not (ids, order, one of each, counts, limits); what it read.

    pywasm reads sections in any order and any number of times, and takes an
    unknown id for a custom section.
    """
    try:
        sections = read_sections(data)
    except DecodeError as exc:
        raise InvalidModule(str(exc)) from None
    last = -1
    data_count: int | None = None
    counts = {SECTION_FUNCTION: 0, SECTION_CODE: 0}
    try:
        for section in sections:
            if section.id in counts:
                counts[section.id] = read_u(data, section.payload_start)[0]
            elif section.id in (SECTION_TABLE, SECTION_MEMORY):
                _check_limits(data, section.payload_start, table=section.id == SECTION_TABLE)
    except (DecodeError, IndexError) as exc:
        raise InvalidModule(f"malformed section: {exc}") from None
    if counts[SECTION_FUNCTION] != counts[SECTION_CODE]:
        raise InvalidModule(f"function and code section have inconsistent lengths ({counts[SECTION_FUNCTION]} and "
                            f"{counts[SECTION_CODE]})")
    for section in sections:
        if section.id == 0:
            continue
        if section.id not in SECTION_ORDER:
            raise InvalidModule(f"malformed section id {section.id}")
        position = SECTION_ORDER.index(section.id)
        if position <= last:
            raise InvalidModule(f"unexpected content after last section (section {section.id} out of order or repeated)")
        last = position
        if section.id == SECTION_DATA_COUNT:
            try:
                data_count, end = read_u(data, section.payload_start)
            except DecodeError as exc:
                raise InvalidModule(str(exc)) from None
            if end != section.end:
                raise InvalidModule("section size mismatch (data count section)")
    return SectionFacts(data_count)


def check_module(desc: Any) -> None:
    """Raise :class:`InvalidModule` if parsed module ``desc`` breaks a structural rule."""
    imported = {kind: [i for i in desc.imps if i.kind == kind] for kind in (KIND_FUNC, KIND_TABLE, KIND_MEMORY, KIND_GLOBAL)}
    counts = {
        KIND_FUNC: len(imported[KIND_FUNC]) + len(desc.func),
        KIND_TABLE: len(imported[KIND_TABLE]) + len(desc.tabl),
        KIND_MEMORY: len(imported[KIND_MEMORY]) + len(desc.mems),
        KIND_GLOBAL: len(imported[KIND_GLOBAL]) + len(desc.glob),
    }
    for index in [i.desc for i in imported[KIND_FUNC]] + [f.type for f in desc.func]:
        if not 0 <= index < len(desc.type):
            raise InvalidModule(f"type index {index} out of range ({len(desc.type)} types)")
    if counts[KIND_MEMORY] > 1:
        raise InvalidModule("multiple memories")
    for limits in [m.limits for m in desc.mems] + [i.desc.limits for i in imported[KIND_MEMORY]]:
        if limits.n > MAX_PAGES or limits.m > MAX_PAGES:
            raise InvalidModule(f"memory size must be at most {MAX_PAGES} pages (4 GiB)")
        if limits.m and limits.n > limits.m:
            raise InvalidModule("memory minimum exceeds its maximum")
    names: set[str] = set()
    for export in desc.exps:
        if export.name in names:
            raise InvalidModule(f"duplicate export name {export.name!r}")
        names.add(export.name)
        if not 0 <= export.desc < counts.get(export.kind, 0):
            raise InvalidModule(f"export {export.name!r} refers to a missing item {export.desc}")
    if desc.star >= counts[KIND_FUNC]:
        raise InvalidModule(f"start function {desc.star} out of range")


def _maximum(limits: Any) -> int | None:
    """A table's or memory's maximum (``None``: none; see :class:`ExplicitZero`)."""
    return int(limits.m) if limits.m else None


def _limits_match(size: int, maximum: int | None, wanted: Any) -> bool:
    """Does an actual table or memory of ``size`` and ``maximum`` (``None``: none) meet the import's ``wanted`` limits?"""
    if size < wanted.n:
        return False
    if not wanted.m:
        return True
    return maximum is not None and maximum <= wanted.m


def import_mismatch(store: Any, desc: Any, imp: Any, extern: Any) -> str:
    """Why ``extern`` (of ``store``) cannot satisfy import ``imp`` of module ``desc`` ("" when it can)."""
    if imp.kind == KIND_FUNC:
        if store.func[extern.data].type != desc.type[imp.desc]:
            return "the function's type differs"
    elif imp.kind == KIND_TABLE:
        table = store.tabl[extern.data]
        if table.type.type != imp.desc.type:
            return "the table's element type differs"
        if not _limits_match(len(table.elem), _maximum(table.type.limits), imp.desc.limits):
            return "the table's limits do not match"
    elif imp.kind == KIND_MEMORY:
        memory = store.mems[extern.data]
        if not _limits_match(len(memory.data) // WASM_PAGE, _maximum(memory.type.limits), imp.desc.limits):
            return "the memory's limits do not match"
    elif imp.kind == KIND_GLOBAL:
        glob = store.glob[extern.data]
        if glob.data.type != imp.desc.type or glob.mut != imp.desc.mut:
            return "the global's type or mutability differs"
    return ""
