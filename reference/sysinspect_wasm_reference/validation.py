"""Structural checks pywasm's parser leaves out.

pywasm parses without validating. These checks catch the malformed modules
that would otherwise fail later in confusing ways (an index past the end,
an impossible memory); they are not a full validator: function bodies are
not type-checked, so an invalid body may only fail when it runs (as a trap).
"""

from __future__ import annotations

from typing import Any

from sysinspect_wasm.wasmbinary import DecodeError, read_sections, read_u

MAX_PAGES = 65536
KIND_FUNC, KIND_TABLE, KIND_MEMORY, KIND_GLOBAL = 0x00, 0x01, 0x02, 0x03
SECTION_ORDER = (1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 10, 11)
"""The order of the known non-custom sections (the data count section, 12, comes before the code)."""
SECTION_DATA_COUNT = 12
SECTION_FUNCTION, SECTION_TABLE, SECTION_MEMORY, SECTION_CODE = 3, 4, 5, 10


class InvalidModule(ValueError):
    """The module is not valid WebAssembly."""


def _check_limits(data: bytes, pos: int, *, table: bool) -> None:
    """Every table's or memory's minimum is at most its maximum (pywasm takes a maximum of 0 for none)."""
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


def check_sections(data: bytes) -> int | None:
    """Check the section framing pywasm does not (ids, order, one of each); the data count section's value, if any.

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
    return data_count


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
        if not _limits_match(len(table.elem), table.type.limits.m or None, imp.desc.limits):
            return "the table's limits do not match"
    elif imp.kind == KIND_MEMORY:
        memory = store.mems[extern.data]
        if not _limits_match(len(memory.data) // 65536, memory.type.limits.m or None, imp.desc.limits):
            return "the memory's limits do not match"
    elif imp.kind == KIND_GLOBAL:
        glob = store.glob[extern.data]
        if glob.data.type != imp.desc.type or glob.mut != imp.desc.mut:
            return "the global's type or mutability differs"
    return ""
