"""The header line is the bytes serde_json writes (PROTOCOL.md 1.5), floats and big integers included.

Each expected byte string below is stated by hand from serde_json's rules
(ryu's float layout, its escapes, its number parsing without
``arbitrary_precision``), as the docstring of ``sysinspect_wasm.jsonio``
derives them; the last test runs a real guest that hashes its standard input.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from protocol.harness import call_raw

from sysinspect_wasm.jsonio import compact_json, format_float, loads_serde, parse_integer, parse_number

if TYPE_CHECKING:
    import corpus  # mypy knows the package by its folder; it is installed as sysinspect_wasm_corpus
else:
    import sysinspect_wasm_corpus as corpus

# (JSON literal in the request, what serde_json writes back for it)
NUMBERS = [
    ("0.0", "0.0"),
    ("-0.0", "-0.0"),
    ("-0", "-0.0"),  # serde_json reads -0 as the float -0.0
    ("0", "0"),
    ("1.0", "1.0"),
    ("1", "1"),
    ("0.1", "0.1"),
    ("1e15", "1000000000000000.0"),
    ("1e16", "1e16"),
    ("1e17", "1e17"),
    ("1e20", "1e20"),
    ("1e21", "1e21"),
    ("1e22", "1e22"),
    ("1E+2", "100.0"),
    ("1.5e300", "1.5e300"),
    ("5e-324", "5e-324"),
    ("1e-5", "0.00001"),
    ("1e-6", "1e-6"),
    ("1e-7", "1e-7"),
    ("0.001234", "0.001234"),
    ("12.34", "12.34"),
    # Beyond u64: read as f64 the way serde_json does without float_roundtrip: the first 20 digits as a u64
    # (12345678901234568000 -> the double 12345678901234567168), times 10: one ulp below the correctly rounded
    # 1.2345678901234568e20 that Python's float() gives.
    ("123456789012345680000", "1.2345678901234567e20"),
    ("1.7976931348623157e308", "1.7976931348623157e308"),
    ("-1.7976931348623157e308", "-1.7976931348623157e308"),
    ("2.2250738585072014e-308", "2.2250738585072014e-308"),
    ("1e-400", "0.0"),
    ("18446744073709551615", "18446744073709551615"),  # u64::MAX stays an integer
    ("18446744073709551616", "1.8446744073709552e19"),  # u64::MAX + 1 is a float
    ("-9223372036854775808", "-9223372036854775808"),  # i64::MIN stays an integer
    ("-9223372036854775809", "-9.223372036854776e18"),
    ("100000000000000000000000000000000000000000", "1e41"),
    ("9007199254740993", "9007199254740993"),  # 2**53 + 1: an integer, exact
    # The same as a float: 90071992547409930 -> the double 90071992547409936, divided by 10 -> ...994
    # (a correctly rounding parser would give the even neighbour ...992).
    ("9007199254740993.0", "9007199254740994.0"),
]


@pytest.mark.parametrize(("literal", "expected"), NUMBERS)
def test_number_reads_and_writes_as_serde_json(literal: str, expected: str) -> None:
    assert compact_json(loads_serde(f"[{literal}]")) == f"[{expected}]"


@pytest.mark.parametrize("literal", ["1e400", "-1e400", "1e99999999999", "NaN", "Infinity", "-Infinity"])
def test_numbers_serde_json_refuses(literal: str) -> None:
    with pytest.raises(ValueError, match=r"out of range|not valid JSON"):
        loads_serde(f"[{literal}]")


def test_huge_exponent_of_zero_is_zero() -> None:
    assert format_float(float(parse_number("0e99999999999"))) == "0.0"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_floats_cannot_be_written(value: float) -> None:
    with pytest.raises(ValueError, match="never writes NaN"):
        compact_json([value])


STRINGS = [
    ('"a\\"b\\\\c"', '"a\\"b\\\\c"'),
    ('"\\n\\r\\t\\b\\f"', '"\\n\\r\\t\\b\\f"'),
    ('"\\u0000\\u001F\\u007f"', '"\\u0000\\u001f\x7f"'),  # control characters: lowercase hex; DEL raw
    ('"\\/ / \\u00e9 é \\ud83d\\ude00"', '"/ / é é 😀"'),  # "/" unescaped, non-ASCII raw UTF-8
    ('"\\u2028"', '"\u2028"'),
]


@pytest.mark.parametrize(("literal", "expected"), STRINGS)
def test_string_escapes_are_serde_jsons(literal: str, expected: str) -> None:
    assert compact_json(loads_serde(literal)) == expected


def test_object_keeps_the_requests_key_order_and_no_spaces() -> None:
    assert compact_json(loads_serde('{"z": 1, "a": [1.5, {"y": null, "b": true}]}')) == '{"z":1,"a":[1.5,{"y":null,"b":true}]}'


@pytest.mark.parametrize("backend", ["wasmtime", "pywasm"])
def test_guest_receives_serde_json_bytes(backend: str) -> None:
    """A real guest (compute-hash-rust) hashes the stdin it got: the hash must be that of the stated bytes."""
    if backend == "wasmtime":
        pytest.importorskip("wasmtime")
    literals = ",".join(f'"n{i}": {literal}' for i, (literal, _) in enumerate(NUMBERS))
    texts = ",".join(f'"s{i}": {literal}' for i, (literal, _) in enumerate(STRINGS))
    sharelib = str(corpus.library_root())
    request = (f'{{"args": {{"rt.mod": "compute-hash-rust", "rt.backend": "{backend}", {literals}, {texts}}},'
               f' "opts": ["b", "rt.sandbox", "a"], "config": {{"path.sharelib": {json.dumps(sharelib)}}},'
               ' "host": {"traits": {"ü": 1e100}}}')
    args = ",".join(f'"n{i}":{expected}' for i, (_, expected) in enumerate(NUMBERS))
    args += "," + ",".join(f'"s{i}":{expected}' for i, (_, expected) in enumerate(STRINGS))
    expected_line = (f'{{"opts":["b","a"],"args":{{{args}}},"config":{{"path.sharelib":{json.dumps(sharelib)}}},'
                     '"ext":{},"host":{"traits":{"ü":1e100}}}\n').encode()
    answer = call_raw(request.encode())
    assert answer.response["retcode"] == 0, answer.response
    data = answer.response["data"]
    assert data["bytes"] == len(expected_line)
    assert data["sha256"] == hashlib.sha256(expected_line).hexdigest()


def test_integer_literals_read_alike_on_the_short_path_and_the_digit_loop() -> None:
    """The integer reader's short path gives exactly what parse_number gives, at every length and edge."""
    import random

    edges = ["0", "-0", "1", "-1", "9223372036854775807", "-9223372036854775808", "-9223372036854775809",
             "18446744073709551615", "18446744073709551616", "-18446744073709551615", "999999999999999999",
             "-999999999999999999", "1000000000000000000", "-1000000000000000000", "1" + "0" * 5000]
    draw = random.Random(10)
    drawn = [("-" if draw.random() < 0.5 else "") + str(draw.randrange(1, 10)) + "".join(
        str(draw.randrange(10)) for _ in range(draw.randrange(0, 25))) for _ in range(20_000)]
    def outcome(read: Callable[[str], int | float], literal: str) -> tuple[object, ...]:
        try:
            value = read(literal)
        except ValueError as exc:  # out of range: the same refusal either way
            return type(exc), str(exc)
        return type(value), value, str(value)

    for literal in edges + drawn:
        assert outcome(parse_integer, literal) == outcome(parse_number, literal), literal
