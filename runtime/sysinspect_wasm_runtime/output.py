"""What the runtime makes of a guest's output (PROTOCOL.md 1.6)."""

from __future__ import annotations

from sysinspect_wasm import jsoncodec
from sysinspect_wasm.errors import WasmRuntimeError
from sysinspect_wasm.jsonio import loads_serde

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

LOGS_KEY = "__sysinspect-module-logs"
UPSTREAM_LOGS_KEY = "__module-logs"


class OutputError(WasmRuntimeError):
    """The guest's output cannot be put into the response (retcode 6)."""


def _as_json(text: str) -> tuple[bool, Any]:
    """Parse ``text`` as serde_json would; anything it would refuse counts as not JSON."""
    try:
        value = loads_serde(text)
        if "\\ud" in text or "\\uD" in text:
            jsoncodec.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError, UnicodeEncodeError):
        return False, None
    return True, value


def guest_data(stdout: bytes, logs: list[str]) -> dict[str, Any]:
    """The object merged into the response's ``data`` for a guest that ran to completion.

    A JSON object gives its keys; other JSON is wrapped as ``{"data": value}``;
    text that is not JSON as ``{"data": text}`` (unchanged, whitespace kept);
    nothing or only whitespace as ``{"data": null}``. The host's log lines go
    under ``__sysinspect-module-logs``, replacing the guest's own
    ``__module-logs`` and ``__sysinspect-module-logs`` keys. Raises
    :class:`OutputError` when stdout is not UTF-8.
    """
    try:
        text = stdout.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OutputError(
            f"the module's standard output is not valid UTF-8 (byte 0x{stdout[exc.start]:02x} at offset {exc.start})"
        ) from None
    if not text.strip():
        result: dict[str, Any] = {"data": None}
    else:
        ok, value = _as_json(text)
        if not ok:
            result = {"data": text}
        elif isinstance(value, dict):
            result = value
            result.pop(UPSTREAM_LOGS_KEY, None)
        else:
            result = {"data": value}
    result[LOGS_KEY] = list(logs)
    return result
