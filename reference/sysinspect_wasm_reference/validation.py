"""Structural checks pywasm's parser leaves out.

pywasm parses without validating. These checks catch the malformed modules
that would otherwise fail later in confusing ways (an index past the end,
an impossible memory); they are not a full validator: function bodies are
not type-checked, so an invalid body may only fail when it runs (as a trap).
"""

from __future__ import annotations

from typing import Any

MAX_PAGES = 65536
KIND_FUNC, KIND_TABLE, KIND_MEMORY, KIND_GLOBAL = 0x00, 0x01, 0x02, 0x03


class InvalidModule(ValueError):
    """The module is not valid WebAssembly."""


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
