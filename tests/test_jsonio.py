"""Compact serde-style JSON and RFC 6901 pointers."""

from __future__ import annotations

import pytest

from sysinspect_wasm.jsonio import compact_json, resolve_pointer

DOC = {"a": {"b/c": 1, "m~n": 2, "": 3}, "list": [0, 1, {"x": None}]}


@pytest.mark.parametrize(
    ("pointer", "expected"),
    [("", (True, DOC)), ("/a/b~1c", (True, 1)), ("/a/m~0n", (True, 2)), ("/a/", (True, 3)),
     ("/list/2/x", (True, None)), ("/list/3", (False, None)), ("/list/-", (False, None)),
     ("/list/00", (False, None)), ("/list/١", (False, None)), ("a", (False, None)), ("/a/b~1c/d", (False, None))],
)
def test_resolve_pointer(pointer: str, expected: tuple[bool, object]) -> None:
    assert resolve_pointer(DOC, pointer) == expected


def test_compact_json_keeps_utf8_and_has_no_spaces() -> None:
    assert compact_json({"k": ["ü", 1, None]}) == '{"k":["ü",1,null]}'
