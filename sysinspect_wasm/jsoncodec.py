"""``json.loads`` and ``json.dumps``, through the interpreter's C codec without importing :mod:`json`.

:mod:`json` imports :mod:`re` (and with it ``enum``, ``functools`` and
``collections``) to compile a few patterns at import time: several
milliseconds of every warm protocol call, whose JSON the C accelerator
``_json`` reads and writes anyway. :func:`loads` and :func:`dumps` drive that
same accelerator the way ``json.JSONDecoder.decode`` and
``json.JSONEncoder.encode`` do, so a document gives the same value, the
same text, and the same errors. Whatever they do not handle themselves (a
syntax error, extra data, a BOM, bytes in another encoding than UTF-8, an
interpreter without ``_json``) is handed to :mod:`json` itself, imported then,
so every error is exactly json's. ``tests/test_jsoncodec.py`` holds both
equal to :mod:`json`.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

try:
    import _json
except ImportError:  # an interpreter without the accelerator: json does everything (it has its own fallbacks)
    _json = None  # type: ignore[assignment]

_C: Any = _json  # typeshed's signatures of the accelerator are not the ones json calls
make_scanner = None if _C is None else _C.make_scanner
make_encoder = None if _C is None else _C.make_encoder

_WHITESPACE = " \t\n\r"  # json.decoder.WHITESPACE
_INFINITY = float("inf")
_CONSTANTS = {"-Infinity": -_INFINITY, "Infinity": _INFINITY, "NaN": float("nan")}  # json.decoder._CONSTANTS


class _Decoder:
    """The attributes ``_json.make_scanner`` reads, as ``json.JSONDecoder`` sets them."""

    def __init__(self, parse_float: Callable[[str], Any] | None, parse_int: Callable[[str], Any] | None,
                 parse_constant: Callable[[str], Any] | None) -> None:
        self.strict = True
        self.object_hook = None
        self.object_pairs_hook = None
        self.parse_float = parse_float or float
        self.parse_int = parse_int or int
        self.parse_constant = parse_constant or _CONSTANTS.__getitem__
        self.memo: dict[str, str] = {}


_DEFAULT_SCANNER: Any = None if make_scanner is None else make_scanner(_Decoder(None, None, None))


def loads(document: str | bytes | bytearray, *, parse_float: Callable[[str], Any] | None = None,
          parse_int: Callable[[str], Any] | None = None, parse_constant: Callable[[str], Any] | None = None) -> Any:
    """``json.loads(document, parse_float=..., parse_int=..., parse_constant=...)``."""
    text = document
    if not isinstance(text, str):
        # json.detect_encoding answers UTF-8 unless a BOM or a NUL among the first bytes says otherwise
        head = bytes(text[:2])
        if head[:1] in (b"\xef", b"\xfe", b"\xff", b"\x00") or head[1:2] == b"\x00":
            return _json_loads(document, parse_float, parse_int, parse_constant)
        text = text.decode("utf-8", "surrogatepass")
    if make_scanner is None or text.startswith("\ufeff"):
        return _json_loads(document, parse_float, parse_int, parse_constant)
    if parse_float is None and parse_int is None and parse_constant is None:
        scan = _DEFAULT_SCANNER
    else:
        scan = make_scanner(_Decoder(parse_float, parse_int, parse_constant))
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = scan(text, start)
    except (StopIteration, SystemError):
        # No value at all, or a syntax error: json says so, in its own words. (The scanner raises json's
        # JSONDecodeError only once json.decoder is imported; before that, CPython 3.11's fails with a
        # SystemError, "returned NULL without setting an exception".)
        return _json_loads(document, parse_float, parse_int, parse_constant)
    if text[end:].lstrip(_WHITESPACE):  # extra data
        return _json_loads(document, parse_float, parse_int, parse_constant)
    return value


def _json_loads(document: str | bytes | bytearray, parse_float: Callable[[str], Any] | None,
                parse_int: Callable[[str], Any] | None, parse_constant: Callable[[str], Any] | None) -> Any:
    import json

    return json.loads(document, parse_float=parse_float, parse_int=parse_int, parse_constant=parse_constant)


def _default(value: Any) -> Any:
    """``json.JSONEncoder.default``: nothing else is serializable."""
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def dumps(value: Any, *, ensure_ascii: bool = True, allow_nan: bool = True, sort_keys: bool = False,
          separators: tuple[str, str] | None = None) -> str:
    """``json.dumps(value, ensure_ascii=..., allow_nan=..., sort_keys=..., separators=...)``."""
    if make_encoder is None:
        import json

        return json.dumps(value, ensure_ascii=ensure_ascii, allow_nan=allow_nan, sort_keys=sort_keys,
                          separators=separators)
    encode_string = _C.encode_basestring_ascii if ensure_ascii else _C.encode_basestring
    if isinstance(value, str):
        text: str = encode_string(value)
        return text
    item_separator, key_separator = separators if separators is not None else (", ", ": ")
    encoder = make_encoder({}, _default, encode_string, None, key_separator, item_separator, sort_keys, False,
                           allow_nan)
    return "".join(encoder(value, 0))


def is_decode_error(exc: BaseException) -> bool:
    """True when ``exc`` is a ``json.JSONDecodeError`` (a syntax error: it has ``msg``, ``lineno``, ``colno``).

    Such an error only exists once :mod:`json` is imported (the C scanner imports it to raise one), so a
    caller can tell it without importing json first.
    """
    import sys

    decoder = sys.modules.get("json.decoder")
    return decoder is not None and isinstance(exc, decoder.JSONDecodeError)


def encode_string(text: str) -> str:
    """``json.encoder.encode_basestring``: ``text`` as a JSON string, non-ASCII characters kept as they are."""
    if make_encoder is None:
        import json

        result: str = json.encoder.encode_basestring(text)
        return result
    encoded: str = _C.encode_basestring(text)
    return encoded
