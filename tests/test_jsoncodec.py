"""sysinspect_wasm.jsoncodec against the json module: the same values, texts and errors, whatever the input."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sysinspect_wasm import jsoncodec
from sysinspect_wasm.jsonio import parse_integer, parse_number

ROOT = Path(__file__).resolve().parent.parent
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
WHITE = st.text(alphabet=" \t\n\r\f\v", max_size=3)


def outcome(call: Any, *args: Any, **kwargs: Any) -> tuple[str, Any]:
    """What a call gives: its value (NaN made comparable) or its exception's type and text."""
    try:
        value = call(*args, **kwargs)
    except (ValueError, TypeError, RecursionError) as exc:
        return "raised", (type(exc), str(exc), getattr(exc, "pos", None))
    return "value", json.dumps(value, sort_keys=True) if not isinstance(value, float) or not math.isnan(value) else "nan"


@settings(max_examples=400)
@given(values, WHITE, WHITE, st.sampled_from([None, (",", ":"), (", ", ": ")]), st.booleans(), st.booleans(),
       st.booleans())
def test_documents_read_and_write_as_json_does(value: Any, before: str, after: str,
                                                separators: tuple[str, str] | None, ensure_ascii: bool,
                                                allow_nan: bool, sort_keys: bool) -> None:
    options = {"ensure_ascii": ensure_ascii, "allow_nan": allow_nan, "sort_keys": sort_keys, "separators": separators}
    assert outcome(jsoncodec.dumps, value, **options) == outcome(json.dumps, value, **options)
    text = json.dumps(value)
    for document in (before + text + after, (before + text + after).encode()):
        assert outcome(jsoncodec.loads, document) == outcome(json.loads, document)
        hooks = {"parse_float": parse_number, "parse_int": parse_integer, "parse_constant": lambda name: 0}
        assert outcome(jsoncodec.loads, document, **hooks) == outcome(json.loads, document, **hooks)


@settings(max_examples=400)
@given(st.text(alphabet='{}[]",:0123456789.eE+-tfnrulsaINfy\\ \t\nxé\ufeff\x00', max_size=16) | st.binary(max_size=12))
def test_any_text_reads_or_fails_as_json_does(document: str | bytes) -> None:
    assert outcome(jsoncodec.loads, document) == outcome(json.loads, document)


@pytest.mark.parametrize("document", [
    b"", "", " ", "\ufeff{}", b"\xef\xbb\xbf{}", '{"a": 1}'.encode("utf-16"), '[1]'.encode("utf-32-le"), b"[1]x",
    "[1] [2]", "NaN", "-Infinity", '"\\ud800"', b'"\xed\xa0\x80"', "[" * 100_000,
])
def test_the_edges_read_or_fail_as_json_does(document: str | bytes) -> None:
    assert outcome(jsoncodec.loads, document) == outcome(json.loads, document)


@pytest.mark.parametrize("value", [float("nan"), [float("inf")], {1: 2}, {(1,): 2}, object(), [set()], "\ud800", b"x"])
def test_what_json_cannot_write_fails_alike(value: Any) -> None:
    for allow_nan in (True, False):
        assert outcome(jsoncodec.dumps, value, allow_nan=allow_nan) == outcome(json.dumps, value, allow_nan=allow_nan)


@pytest.mark.parametrize("document", ["{x", "[1,", "", "[1] 2", '"\\x"', "\ufeff1"])
def test_syntax_errors_are_json_s_in_a_process_that_has_not_imported_json(document: str) -> None:
    # the C scanner can only raise json's JSONDecodeError once json.decoder is loaded: before, json is asked
    script = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from sysinspect_wasm import jsoncodec\n"
              f"try: jsoncodec.loads({document!r})\n"
              "except ValueError as exc: print(type(exc).__name__, exc, jsoncodec.is_decode_error(exc))")
    done = subprocess.run([sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True, timeout=60,
                          check=True)
    try:
        json.loads(document)
    except ValueError as exc:
        assert done.stdout.strip() == f"{type(exc).__name__} {exc} True"


def test_reading_and_writing_imports_no_json() -> None:
    # -S: no site (whose start-up imports re); the package is found through the path given here
    script = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from sysinspect_wasm import jsoncodec; "
              "jsoncodec.dumps(jsoncodec.loads('{\"a\": [1, 2.5, null]}'), separators=(',', ':')); "
              "print(sorted(m for m in ('json', 're', 'enum') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
