r"""JSON read and written exactly as serde_json reads and writes it, and JSON Pointer lookups.

Guests find header keys by substring, so the bytes matter (PROTOCOL.md 1.5).
Upstream parses the request with serde_json (built without its
``arbitrary_precision`` and ``float_roundtrip`` features) and writes the header
with it; :func:`parse_number` and :func:`compact_json` reproduce both halves.

Writing (serde_json's ``Serializer`` with its compact formatter):

* no whitespace; object members in the order they were read;
* strings: ``\"``, ``\\``, ``\n``, ``\r``, ``\t``, ``\b``, ``\f``; every other
  character below U+0020 as ``\u00XX`` with lowercase hex; everything else,
  ``/``, DEL and all non-ASCII characters included, as raw UTF-8;
* integers (``u64``/``i64``) in decimal;
* floats (``f64``) with ryu's ``format_finite`` (serde_json never writes NaN or
  infinity; a JSON text cannot carry them). Ryu takes the shortest digit
  string ``D`` (``n`` digits) with ``value == D * 10**k`` that reads back as
  the same double, then with ``kk = n + k`` (so ``10**(kk-1) <= |value| < 10**kk``):

  - zero: ``0.0``, negative zero ``-0.0``;
  - ``0 <= k`` and ``kk <= 16``: the digits, ``k`` zeros, ``.0`` (``1e15`` -> ``1000000000000000.0``);
  - ``0 < kk <= 16``: the digits with the point after ``kk`` of them (``12.34``);
  - ``-5 < kk <= 0``: ``0.``, ``-kk`` zeros, the digits (``1e-5`` -> ``0.00001``);
  - otherwise, one digit: ``De`` and the exponent ``kk-1`` (``1e16``, ``1e-7``, ``5e-324``);
  - otherwise: ``D.DDDe`` and ``kk-1`` (``1.5e300``, ``1.2345678901234568e20``);

  the exponent has a ``-`` when negative, never a ``+``, never leading zeros.
  Python's ``repr`` finds the same shortest, closest digits; only the layout differs.

Reading numbers (serde_json's ``parse_integer``/``parse_decimal``/``parse_exponent``
without ``float_roundtrip``): an integer literal that fits ``u64`` (positive) or
``i64`` (negative) stays an integer; ``-0`` is the float ``-0.0``; every other
literal becomes a double computed the way serde_json computes it, which is
not always the correctly rounded one: the digits are gathered into a ``u64``
while they fit (integer digits beyond it each add one to the exponent,
fraction digits beyond it are dropped), that ``u64`` is converted to a double,
then multiplied or divided once by ``10**|exponent|`` from a table up to
``1e308`` (dividing by ``1e308`` first while the exponent is below -308). A
result that overflows to infinity is refused ("number out of range"), as is
an exponent beyond ``i32`` with a non-zero significand; ``NaN`` and
``Infinity`` literals are not JSON.
"""

from __future__ import annotations

from . import jsoncodec
from .errors import WasmRuntimeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_MISSING = object()

U64_MAX = (1 << 64) - 1
I64_MIN = -(1 << 63)
I32_MAX = (1 << 31) - 1
_POW10 = tuple(float(f"1e{i}") for i in range(309))
_encode_string = jsoncodec.encode_string  # serde_json's escapes exactly (non-ASCII kept raw)


class NumberOutOfRange(ValueError, WasmRuntimeError):
    """A JSON number serde_json refuses: it does not fit a double."""


def _f64_from_parts(negative: bool, significand: int, exponent: int, text: str) -> float:
    value = float(significand)  # round to nearest, ties to even: Rust's `u64 as f64`
    while True:
        if abs(exponent) <= 308:
            if exponent >= 0:
                value *= _POW10[exponent]
                if value == float("inf"):
                    raise NumberOutOfRange(f"the number {text[:40]} is out of range")
            else:
                value /= _POW10[-exponent]
            break
        if value == 0.0:
            break
        if exponent >= 0:
            raise NumberOutOfRange(f"the number {text[:40]} is out of range")
        value /= 1e308
        exponent += 308
    return -value if negative else value


def parse_number(text: str) -> int | float:
    """The value serde_json gives the JSON number literal ``text`` (see the module docstring)."""
    negative = text.startswith("-")
    i = 1 if negative else 0
    n = len(text)
    significand = 0
    exponent = 0
    full = False  # the u64 significand cannot take another digit
    while i < n and "0" <= text[i] <= "9":
        digit = ord(text[i]) - 48
        if full or significand * 10 + digit > U64_MAX:
            full = True
            exponent += 1
        else:
            significand = significand * 10 + digit
        i += 1
    if i == n and not full:
        if not negative:
            return significand
        if significand == 0:
            return -0.0
        return -significand if -significand >= I64_MIN else -float(significand)
    if i < n and text[i] == ".":
        i += 1
        dropping = False
        while i < n and "0" <= text[i] <= "9":
            digit = ord(text[i]) - 48
            if not dropping and significand * 10 + digit > U64_MAX:
                dropping = True
            if not dropping:
                significand = significand * 10 + digit
                exponent -= 1
            i += 1
    if i < n and text[i] in "eE":
        i += 1
        positive_exp = True
        if text[i] in "+-":
            positive_exp = text[i] == "+"
            i += 1
        value = 0
        first = True
        while i < n:
            digit = ord(text[i]) - 48
            if not first and value * 10 + digit > I32_MAX:
                if significand != 0 and positive_exp:
                    raise NumberOutOfRange(f"the number {text[:40]} is out of range")
                return -0.0 if negative else 0.0
            value = value * 10 + digit
            first = False
            i += 1
        exponent = exponent + value if positive_exp else exponent - value
        exponent = max(-(1 << 31), min(I32_MAX, exponent))  # saturating, as serde_json's i32 arithmetic
    return _f64_from_parts(negative, significand, exponent, text)


def parse_integer(text: str) -> int | float:
    """:func:`parse_number` of an integer literal (what ``json`` gives ``parse_int``), without its digit loop
    where ``int`` gives the same value: up to 18 digits every value lies within i64 and u64; ``-0`` is serde_json's
    ``-0.0``; a longer literal takes :func:`parse_number` (it may pass both, or ``int``'s digit limit)."""
    if len(text) - (text[0] == "-") <= 18:
        value = int(text)
        return value if value or text[0] != "-" else -0.0
    return parse_number(text)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads_serde(text: str) -> Any:
    """Parse ``text`` as serde_json would: its numbers (see :func:`parse_number`), no NaN or Infinity.

    Raises :class:`ValueError` (``json.JSONDecodeError`` for syntax errors).
    """
    return jsoncodec.loads(text, parse_constant=_reject_constant, parse_float=parse_number, parse_int=parse_integer)


def format_float(value: float) -> str:
    """``value`` as serde_json writes an ``f64`` (ryu's layout, see the module docstring)."""
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{value!r} cannot be written as JSON (serde_json never writes NaN or infinity)")
    if value == 0.0:
        return "-0.0" if str(value).startswith("-") else "0.0"
    sign = "-" if value < 0 else ""
    text = repr(abs(value))  # the shortest round-trip digits, e.g. '1.5e+300', '0.0001', '123.0'
    mantissa, _, exp_text = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    k = (int(exp_text) if exp_text else 0) - len(fraction)
    stripped = digits.rstrip("0")
    k += len(digits) - len(stripped)
    digits = stripped
    length = len(digits)
    kk = length + k
    if k >= 0 and kk <= 16:
        body = digits + "0" * k + ".0"
    elif 0 < kk <= 16:
        body = digits[:kk] + "." + digits[kk:]
    elif -5 < kk <= 0:
        body = "0." + "0" * -kk + digits
    elif length == 1:
        body = f"{digits}e{kk - 1}"
    else:
        body = f"{digits[0]}.{digits[1:]}e{kk - 1}"
    return sign + body


def _has_float(value: Any) -> bool:
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, float):
            return True
        if isinstance(node, int) and not isinstance(node, bool) and not I64_MIN <= node <= U64_MAX:
            return True
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
    return False


def _write(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(_encode_string(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        # an integer beyond 64 bits is what serde_json reads as an f64
        out.append(str(value) if I64_MIN <= value <= U64_MAX else format_float(float(parse_number(str(value)))))
    elif isinstance(value, float):
        out.append(format_float(value))
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")
            if not first:
                out.append(",")
            first = False
            out.append(_encode_string(key))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def compact_json(value: Any) -> str:
    """``value`` as serde_json's compact writer writes it (see the module docstring)."""
    if not _has_float(value):
        # No float, no integer beyond 64 bits: the standard encoder (in C) already writes serde_json's bytes.
        return jsoncodec.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    out: list[str] = []
    _write(value, out)
    return "".join(out)


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
