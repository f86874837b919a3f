"""A module's own documentation (what it prints for the option ``man``) as readable text."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

_SKIP = frozenset({"changed", "__sysinspect-module-logs"})


def find_doc(data: Any) -> dict[str, Any] | None:
    """The documentation object inside a response's ``data``, or ``None``.

    Modules print it as their output object, so its keys sit directly in
    ``data``; one wrapped as ``{"doc": {...}}`` or ``{"data": {...}}`` is
    found too.
    """
    if not isinstance(data, dict):
        return None
    candidates = [data, data.get("doc"), data.get("data")]
    for candidate in candidates:
        if isinstance(candidate, dict) and "name" in candidate and ("description" in candidate or "arguments" in candidate):
            return {k: v for k, v in candidate.items() if k not in _SKIP}
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    return json.dumps(value, indent=2, ensure_ascii=False)


def _indent(text: str, prefix: str) -> Iterator[str]:
    for line in text.splitlines() or [""]:
        yield (prefix + line).rstrip()


def _items(section: Any) -> list[dict[str, Any]]:
    """Arguments, options or examples as a list of objects, whatever shape the module chose."""
    if isinstance(section, list):
        return [item if isinstance(item, dict) else {"name": _text(item)} for item in section]
    if isinstance(section, Mapping):
        out = []
        for name, value in section.items():
            item = dict(value) if isinstance(value, Mapping) else {"description": value}
            item.setdefault("name", name)
            out.append(item)
        return out
    return []


def render_doc(doc: Mapping[str, Any]) -> str:
    """Name, meta, description, arguments, options, examples and returns, as plain text."""
    lines = ["Name:", *_indent(_text(doc.get("name")), "  "), ""]
    meta = [(label, _text(doc.get(key))) for label, key in (("Version", "version"), ("Author", "author"))]
    if any(value for _, value in meta):
        lines.append("Meta:")
        lines += [f"  {label}: {value}" for label, value in meta if value]
        lines.append("")
    description = _text(doc.get("description"))
    if description:
        lines += ["Description:", *_indent(description, "  "), ""]

    arguments = _items(doc.get("arguments"))
    if arguments:
        lines.append("Keyword arguments:")
        for arg in arguments:
            facts = [f"type: {_text(arg.get('type')) or '<any>'}"]
            if arg.get("required"):
                facts.append("required")
            elif arg.get("default") is not None:
                facts.append(f"default: {_text(arg.get('default'))}")
            lines.append(f"  {_text(arg.get('name'))} ({', '.join(facts)})")
            lines += _indent(_text(arg.get("description")), "    ")
            lines.append("")

    options = _items(doc.get("options"))
    if options:
        lines.append("Options:")
        for option in options:
            lines.append(f"  {_text(option.get('name'))}")
            lines += _indent(_text(option.get("description")), "    ")
            lines.append("")

    examples = _items(doc.get("examples"))
    if examples:
        lines.append("Usage examples:")
        for number, example in enumerate(examples, 1):
            title = _text(example.get("description")) or f"Example {number}"
            first, *rest = title.splitlines()
            lines.append(f"  {number}. {first}")
            lines += _indent("\n".join(rest), "     ") if rest else []
            lines += _indent(_text(example.get("code")), "       ")
            lines.append("")

    returns = doc.get("returns")
    if returns:
        lines.append("Returns:")
        if isinstance(returns, Mapping) and ("description" in returns or "sample" in returns):
            lines += _indent(_text(returns.get("description")), "  ") if returns.get("description") else []
            if returns.get("sample") is not None:
                lines += _indent(_text(returns.get("sample")), "    ")
        else:
            lines += _indent(_text(returns), "  ")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
