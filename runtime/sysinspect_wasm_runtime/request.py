"""The request (ModRequest): parsed, validated and typed.

Two layers. :func:`parse_request` turns the raw bytes a minion wrote into a
:class:`ModRequest` (PROTOCOL.md 1.1), refusing anything malformed with a
:class:`RequestError` that says what was wrong. :func:`runtime_settings` then
reads the ``rt.*`` names (and upstream's ``write-dir``) into a
:class:`RuntimeSettings`, validating each one.
"""

from __future__ import annotations

from sysinspect_wasm import jsoncodec
from sysinspect_wasm.backends import BACKEND_CHOICES
from sysinspect_wasm.errors import WasmRuntimeError
from sysinspect_wasm.jsonio import loads_serde
from sysinspect_wasm.library import DEFAULT_SHARELIB
from sysinspect_wasm.records import FrozenRecord

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

RT_PREFIX = "rt."
SHARELIB_KEY = "path.sharelib"

MAX_REQUEST_BYTES = 16 * 1024 * 1024
"""A request larger than this is refused: a minion's request is a few KiB."""

MAX_DEPTH = 128
"""Deepest nesting of arrays and objects accepted (serde_json's own recursion limit)."""

MAX_TIMEOUT = 255
MAX_MEMORY_MB = 4096
"""A 32-bit linear memory cannot be larger than 4 GiB."""
MAX_OUTPUT_KB = 1024 * 1024


# The rt.* names this runtime understands, with a one-line summary each; the
# manual documents every one of them at length.
RT_ARGUMENTS: dict[str, str] = {
    "rt.mod": "id of the module to run",
    "rt.man": "true: ask the module for its documentation (adds the option 'man')",
    "rt.rootfs": "absolute host directory shown to the guest as /",
    "rt.backend": "engine: auto, wasmtime or pywasm",
    "rt.memory-mb": "ceiling of the guest's linear memory, in MiB",
    "rt.output-kb": "cap on each of the guest's stdout and stderr, in KiB",
    "rt.sandbox": "true: same as the option rt.sandbox",
}
RT_OPTIONS: dict[str, str] = {
    "rt.list": "list the available modules instead of running one",
    "rt.sandbox": "guest / read-only, api.exec and PackageKit refused",
    "rt.logs": "accepted for compatibility: logs are always returned",
}
WRITE_DIR = "write-dir"

_ALIASES = (("options", "opts"), ("arguments", "args"))
_KNOWN_KEYS = frozenset({"timeout", "quiet", "options", "opts", "arguments", "args", "config", "host", "ext"})


class RequestError(WasmRuntimeError):
    """The request cannot be understood; the text says what was wrong (retcode 2)."""


class ModRequest(FrozenRecord):
    """A validated request. ``options`` and ``arguments`` still hold the ``rt.*`` names.

    Mappings left out (or ``None``) get fresh defaults: empty, and for
    ``config`` the default sharelib.
    """

    __match_args__ = ("timeout", "quiet", "options", "arguments", "config", "host", "ext")
    timeout: int
    quiet: bool
    options: tuple[str, ...]
    arguments: Mapping[str, Any]
    config: Mapping[str, Any]
    host: Mapping[str, Any]
    ext: Mapping[str, Any]

    def __init__(self, timeout: int = 0, quiet: bool = False, options: tuple[str, ...] = (),
                 arguments: Mapping[str, Any] | None = None, config: Mapping[str, Any] | None = None,
                 host: Mapping[str, Any] | None = None, ext: Mapping[str, Any] | None = None) -> None:
        self.__dict__.update(
            timeout=timeout, quiet=quiet, options=options,
            arguments={} if arguments is None else arguments,
            config={SHARELIB_KEY: DEFAULT_SHARELIB} if config is None else config,
            host={} if host is None else host,
            ext={} if ext is None else ext,
        )

    def guest_options(self) -> list[str]:
        """The options the guest sees: the request's, in order, without ``rt.*``."""
        return [o for o in self.options if not o.startswith(RT_PREFIX)]

    def guest_arguments(self) -> dict[str, Any]:
        """The arguments the guest sees: the request's, in order, without ``rt.*``."""
        return {k: v for k, v in self.arguments.items() if not k.startswith(RT_PREFIX)}

    def has_option(self, name: str) -> bool:
        """True when option ``name`` was given."""
        return name in self.options


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _check_depth(value: Any) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > MAX_DEPTH:
            raise RequestError(f"the request is nested more than {MAX_DEPTH} levels deep")
        stack.extend((child, depth + 1) for child in children)


def _check_unicode(value: Any) -> None:
    try:
        jsoncodec.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError("the request contains a lone UTF-16 surrogate escape (\\ud800-\\udfff)") from None


def parse_request(raw: bytes) -> ModRequest:
    """Parse the bytes a minion wrote on stdin into a :class:`ModRequest`.

    Raises :class:`RequestError` for an empty, oversized, non-UTF-8 or
    non-JSON request, and for any key of the wrong type.
    """
    if len(raw) > MAX_REQUEST_BYTES:
        raise RequestError(f"the request is larger than {MAX_REQUEST_BYTES // (1024 * 1024)} MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(f"the request is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None
    if not text.strip():
        raise RequestError("the request is empty: write one JSON object on standard input, e.g. "
                           '{"args": {"rt.mod": "MODULE"}}')
    try:
        document = loads_serde(text)
    except ValueError as exc:
        if jsoncodec.is_decode_error(exc):  # a json.JSONDecodeError
            raise RequestError(f"the request is not valid JSON: {exc.msg} at line {exc.lineno}, "  # type: ignore[attr-defined]
                               f"column {exc.colno}") from None  # type: ignore[attr-defined]
        raise RequestError(f"the request is not valid JSON: {exc}") from None
    except RecursionError:
        raise RequestError(f"the request is nested more than {MAX_DEPTH} levels deep") from None
    _check_depth(document)
    if "\\ud" in text or "\\uD" in text:
        _check_unicode(document)
    return request_from_object(document)


def request_from_object(document: Any) -> ModRequest:
    """Validate an already parsed JSON document as a request (see :func:`parse_request`)."""
    if not isinstance(document, dict):
        raise RequestError(f"the request must be a JSON object, not {_describe(document)}")
    for name, alias in _ALIASES:
        if name in document and alias in document:
            raise RequestError(f'the request has both "{name}" and "{alias}": they are the same key, give one')

    timeout = document.get("timeout")
    if timeout is None:
        timeout = 0
    elif isinstance(timeout, bool) or not isinstance(timeout, int) or not 0 <= timeout <= MAX_TIMEOUT:
        raise RequestError(f'"timeout" must be a whole number of seconds from 0 to {MAX_TIMEOUT}, not {jsoncodec.dumps(timeout)[:60]}')

    quiet = document.get("quiet")
    if quiet is None:
        quiet = False
    elif not isinstance(quiet, bool):
        raise RequestError(f'"quiet" must be true or false, not {_describe(quiet)}')

    options_key = "options" if "options" in document else "opts"
    options = document.get(options_key)
    if options is None:
        options = []
    if not isinstance(options, list):
        raise RequestError(f'"{options_key}" must be a list of strings, not {_describe(options)}')
    for index, option in enumerate(options):
        if not isinstance(option, str):
            raise RequestError(f'"{options_key}"[{index}] must be a string, not {_describe(option)}')

    arguments_key = "arguments" if "arguments" in document else "args"
    arguments = _object(document, arguments_key, "an object of keyword arguments")
    config = _object(document, "config", 'an object of flattened settings, e.g. {"path.sharelib": "/usr/share/sysinspect"}')
    if SHARELIB_KEY not in config:
        config = {**config, SHARELIB_KEY: DEFAULT_SHARELIB}
    host = _object(document, "host", 'an object, e.g. {"traits": {...}}')
    ext = _object(document, "ext", "an object of extra data")
    extra = {k: v for k, v in document.items() if k not in _KNOWN_KEYS}
    if extra:
        ext = {**ext, **extra}

    return ModRequest(
        timeout=timeout,
        quiet=quiet,
        options=tuple(o for o in options if o),
        arguments=arguments,
        config=config,
        host=host,
        ext=ext,
    )


def _object(document: dict[str, Any], key: str, what: str) -> dict[str, Any]:
    value = document.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RequestError(f'"{key}" must be {what}, not {_describe(value)}')
    return value


class RuntimeSettings(FrozenRecord):
    """What the ``rt.*`` names (and ``write-dir``) ask of the runtime."""

    __match_args__ = ("module_id", "list_modules", "man", "backend", "sandbox", "rootfs", "memory_mb", "output_kb",
                      "unknown")
    module_id: str
    list_modules: bool
    man: bool
    backend: str
    sandbox: bool
    rootfs: str | None
    memory_mb: int | None
    output_kb: int | None
    unknown: tuple[str, ...]

    def __init__(self, module_id: str = "", list_modules: bool = False, man: bool = False, backend: str = "auto",
                 sandbox: bool = False, rootfs: str | None = None, memory_mb: int | None = None,
                 output_kb: int | None = None, unknown: tuple[str, ...] = ()) -> None:
        self.__dict__.update(module_id=module_id, list_modules=list_modules, man=man, backend=backend,
                             sandbox=sandbox, rootfs=rootfs, memory_mb=memory_mb, output_kb=output_kb,
                             unknown=unknown)


def _bounded_int(arguments: Mapping[str, Any], name: str, low: int, high: int, unit: str) -> int | None:
    value = arguments.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RequestError(f'argument "{name}" must be a whole number of {unit} from {low} to {high}, '
                           f"not {jsoncodec.dumps(value)[:60]}")
    return value


def _flag(arguments: Mapping[str, Any], name: str) -> bool:
    value = arguments.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise RequestError(f'argument "{name}" must be true or false, not {_describe(value)}')
    return value


def _path_argument(arguments: Mapping[str, Any], name: str) -> str | None:
    value = arguments.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RequestError(f'argument "{name}" must be a string (an absolute path), not {_describe(value)}')
    # as upstream: trailing slashes go, and what is left empty means "not given"
    return value.rstrip("/") or None


def runtime_settings(request: ModRequest) -> RuntimeSettings:
    """Read and validate the runtime's own names in ``request``.

    Raises :class:`RequestError` for a value of the wrong type or out of
    range, an unknown backend, or ``rt.rootfs`` and ``write-dir`` that disagree.
    Unknown ``rt.*`` names are not an error (upstream ignores them); they are
    returned in ``unknown`` so that the response can warn about them.
    """
    arguments = request.arguments
    module_id = arguments.get("rt.mod", "")
    if module_id is None:
        module_id = ""
    if not isinstance(module_id, str):
        raise RequestError(f'argument "rt.mod" must be a string (the id of a module), not {_describe(module_id)}')

    backend = arguments.get("rt.backend", "auto")
    if backend is None:
        backend = "auto"
    if not isinstance(backend, str) or backend not in BACKEND_CHOICES:
        shown = jsoncodec.dumps(backend, ensure_ascii=False)[:60]
        raise RequestError(f'argument "rt.backend" must be one of {", ".join(BACKEND_CHOICES)}, not {shown}')

    rootfs = _path_argument(arguments, "rt.rootfs")
    write_dir = _path_argument(arguments, WRITE_DIR)
    if rootfs is not None and write_dir is not None and rootfs != write_dir:
        raise RequestError(f'arguments "rt.rootfs" ({rootfs}) and "{WRITE_DIR}" ({write_dir}) disagree: give one of them')

    unknown = [f"argument {k}" for k in arguments if k.startswith(RT_PREFIX) and k not in RT_ARGUMENTS]
    unknown += [f"option {o}" for o in request.options if o.startswith(RT_PREFIX) and o not in RT_OPTIONS]

    return RuntimeSettings(
        module_id=module_id,
        list_modules=request.has_option("rt.list"),
        man=_flag(arguments, "rt.man"),
        backend=backend,
        sandbox=request.has_option("rt.sandbox") or _flag(arguments, "rt.sandbox"),
        rootfs=rootfs if rootfs is not None else write_dir,
        memory_mb=_bounded_int(arguments, "rt.memory-mb", 1, MAX_MEMORY_MB, "MiB"),
        output_kb=_bounded_int(arguments, "rt.output-kb", 1, MAX_OUTPUT_KB, "KiB"),
        unknown=tuple(unknown),
    )
