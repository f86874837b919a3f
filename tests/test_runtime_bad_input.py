"""Bad requests: each one gets exit status 0, one ModResponse line, a non-zero retcode and a clear message.

These run the installed ``wasm-runtime`` as a subprocess; none of them needs a backend.
"""

from __future__ import annotations

import json

import pytest
from protocol.harness import call_raw, failed

BAD = "Invalid request: "

BAD_INPUT: list[tuple[str, bytes, str]] = [
    ("empty stdin", b"", 'the request is empty: write one JSON object on standard input, e.g. {"args": {"rt.mod": "MODULE"}}'),
    ("only whitespace", b" \n\t\n", 'the request is empty: write one JSON object on standard input, e.g. {"args": {"rt.mod": "MODULE"}}'),
    ("invalid JSON", b"{args: 1}", "the request is not valid JSON: Expecting property name enclosed in double quotes at line 1, column 2"),
    ("truncated JSON", b'{"args": {"rt.mod": "x"}', "the request is not valid JSON: Expecting ',' delimiter at line 1, column 25"),
    ("two documents", b"{} {}", "the request is not valid JSON: Extra data at line 1, column 4"),
    ("plain text", b"Arguments please", "the request is not valid JSON: Expecting value at line 1, column 1"),
    ("invalid UTF-8", b'{"args": {"k": "\xc3\x28"}}', "the request is not valid UTF-8 (byte 0xc3 at offset 16)"),
    ("UTF-16", '{"a": 1}'.encode("utf-16"), "the request is not valid UTF-8 (byte 0xff at offset 0)"),
    ("a JSON array", b'[{"args": {}}]', "the request must be a JSON object, not a list"),
    ("a JSON string", b'"rt.list"', "the request must be a JSON object, not a string"),
    ("a JSON number", b"42", "the request must be a JSON object, not an integer"),
    ("JSON null", b"null", "the request must be a JSON object, not null"),
    ("args as a list", b'{"args": ["rt.mod", "x"]}', '"args" must be an object of keyword arguments, not a list'),
    ("arguments as a string", b'{"arguments": "rt.mod=x"}', '"arguments" must be an object of keyword arguments, not a string'),
    ("opts as a string", b'{"opts": "rt.list"}', '"opts" must be a list of strings, not a string'),
    ("options with a number", b'{"options": ["a", 1]}', '"options"[1] must be a string, not an integer'),
    ("opts and options both", b'{"opts": [], "options": []}', 'the request has both "options" and "opts": they are the same key, give one'),
    ("args and arguments both", b'{"args": {}, "arguments": {}}', 'the request has both "arguments" and "args": they are the same key, give one'),
    ("rt.mod as a number", b'{"args": {"rt.mod": 42}}', 'argument "rt.mod" must be a string (the id of a module), not an integer'),
    ("rt.mod as a list", b'{"args": {"rt.mod": ["x"]}}', 'argument "rt.mod" must be a string (the id of a module), not a list'),
    ("timeout negative", b'{"timeout": -1}', '"timeout" must be a whole number of seconds from 0 to 255, not -1'),
    ("timeout too large", b'{"timeout": 256}', '"timeout" must be a whole number of seconds from 0 to 255, not 256'),
    ("timeout as a string", b'{"timeout": "5"}', '"timeout" must be a whole number of seconds from 0 to 255, not "5"'),
    ("timeout fractional", b'{"timeout": 1.5}', '"timeout" must be a whole number of seconds from 0 to 255, not 1.5'),
    ("timeout boolean", b'{"timeout": true}', '"timeout" must be a whole number of seconds from 0 to 255, not true'),
    ("quiet as a string", b'{"quiet": "yes"}', '"quiet" must be true or false, not a string'),
    ("config as a list", b'{"config": ["path.sharelib"]}', '"config" must be an object of flattened settings, e.g. {"path.sharelib": "/usr/share/sysinspect"}, not a list'),
    ("host as a string", b'{"host": "db1"}', '"host" must be an object, e.g. {"traits": {...}}, not a string'),
    ("ext as a number", b'{"ext": 1}', '"ext" must be an object of extra data, not an integer'),
    ("unknown backend", b'{"args": {"rt.mod": "x", "rt.backend": "v8"}}', 'argument "rt.backend" must be one of auto, wasmtime, pywasm, not "v8"'),
    ("backend as a number", b'{"args": {"rt.backend": 1}}', 'argument "rt.backend" must be one of auto, wasmtime, pywasm, not 1'),
    ("memory zero", b'{"args": {"rt.memory-mb": 0}}', 'argument "rt.memory-mb" must be a whole number of MiB from 1 to 4096, not 0'),
    ("memory as a string", b'{"args": {"rt.memory-mb": "64"}}', 'argument "rt.memory-mb" must be a whole number of MiB from 1 to 4096, not "64"'),
    ("memory beyond 4 GiB", b'{"args": {"rt.memory-mb": 4097}}', 'argument "rt.memory-mb" must be a whole number of MiB from 1 to 4096, not 4097'),
    ("output negative", b'{"args": {"rt.output-kb": -1}}', 'argument "rt.output-kb" must be a whole number of KiB from 1 to 1048576, not -1'),
    ("rt.man as a string", b'{"args": {"rt.man": "yes"}}', 'argument "rt.man" must be true or false, not a string'),
    ("rt.sandbox as a number", b'{"args": {"rt.sandbox": 1}}', 'argument "rt.sandbox" must be true or false, not an integer'),
    ("rootfs as a number", b'{"args": {"rt.rootfs": 5}}', 'argument "rt.rootfs" must be a string (an absolute path), not an integer'),
    ("write-dir as an object", b'{"args": {"write-dir": {}}}', 'argument "write-dir" must be a string (an absolute path), not an object'),
    ("NaN", b'{"args": {"x": NaN}}', "the request is not valid JSON: NaN is not valid JSON"),
    ("Infinity", b'{"args": {"x": -Infinity}}', "the request is not valid JSON: -Infinity is not valid JSON"),
    ("number out of range", b'{"args": {"x": 1e999}}', "the request is not valid JSON: the number 1e999 is out of range"),
    ("lone surrogate", b'{"args": {"x": "\\ud800"}}', "the request contains a lone UTF-16 surrogate escape (\\ud800-\\udfff)"),
    ("byte order mark", b'\xef\xbb\xbf{"args": {}}', "the request is not valid JSON: Unexpected UTF-8 BOM (decode using utf-8-sig) at line 1, column 1"),
    ("nested too deeply", b'{"args": {"x": ' + b"[" * 200 + b"]" * 200 + b"}}", "the request is nested more than 128 levels deep"),
    ("nested beyond Python's recursion limit", b"[" * 100_000 + b"]" * 100_000, "the request is nested more than 128 levels deep"),
]


@pytest.mark.parametrize(("raw", "reason"), [(raw, reason) for _, raw, reason in BAD_INPUT],
                         ids=[name for name, _, _ in BAD_INPUT])
def test_bad_input_gets_a_clear_response(raw: bytes, reason: str) -> None:
    assert call_raw(raw).response == failed(2, BAD + reason)


def test_huge_request() -> None:
    raw = json.dumps({"args": {"blob": "x" * (17 * 1024 * 1024)}}).encode()
    assert call_raw(raw).response == failed(2, BAD + "the request is larger than 16 MiB")


def test_nested_up_to_the_limit_is_accepted() -> None:
    raw = b'{"args": {"rt.mod": "x", "deep": ' + b"[" * 126 + b"]" * 126 + b'}, "config": {"path.sharelib": "/nonexistent"}}'
    assert call_raw(raw).response["retcode"] == 3


def test_nothing_but_the_response_is_on_stdout() -> None:
    answer = call_raw(b"not json")
    assert answer.line.startswith(b'{"retcode":2,') and "Traceback" not in answer.stderr
