"""JSON written the way serde_json writes it, and JSON Pointer lookups.

Guests find header keys by substring, so the byte layout matters: compact
separators, non-ASCII characters as raw UTF-8 rather than ``\\u`` escapes.
"""

from __future__ import annotations

import json
from typing import Any

_MISSING = object()


def compact_json(value: Any) -> str:
    """Serialise ``value`` as compact JSON, non-ASCII characters kept as they are."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def compact_json_bytes(value: Any) -> bytes:
    """:func:`compact_json` encoded as UTF-8."""
    return compact_json(value).encode("utf-8", "surrogatepass")


def resolve_pointer(document: Any, pointer: str) -> tuple[bool, Any]:
    """Resolve an RFC 6901 JSON Pointer; return ``(found, value)``.

    The empty pointer is the whole document. A pointer that does not start
    with ``/``, a missing key, or an array index that is not a canonical
    decimal within range resolves to nothing.
    """
    if pointer == "":
        return True, document
    if not pointer.startswith("/"):
        return False, None
    current = document
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(current, dict):
            if token not in current:
                return False, None
            current = current[token]
        elif isinstance(current, list):
            if not token.isdigit() or not token.isascii() or (len(token) > 1 and token[0] == "0"):
                return False, None
            index = int(token)
            if index >= len(current):
                return False, None
            current = current[index]
        else:
            return False, None
    return True, current
