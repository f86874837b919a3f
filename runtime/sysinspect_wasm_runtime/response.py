"""The response (ModResponse): one JSON object on one line (PROTOCOL.md 1.2)."""

from __future__ import annotations

from sysinspect_wasm.jsonio import compact_json
from sysinspect_wasm.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Return codes. 0 and 3 to 6 are upstream's; 1 is upstream's "response is
# empty" default, used here for an internal error; 2 is ours, for a request
# that cannot be understood (upstream answers those with no response at all).
OK = 0
INTERNAL_ERROR = 1
BAD_REQUEST = 2
LIST_FAILED = 3
SETUP_FAILED = 4
RUN_FAILED = 5
DATA_FAILED = 6

MSG_RAN = "Wasm runtime executed successfully"
MSG_LISTED = "Listed available Wasm modules successfully."


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (dict, list, str)) and not value)


_FRESH: Any = object()
"""Default of ``data``: a fresh ``{"changed": false}`` (``None`` is a value ``data`` may take)."""


class ModResponse(Record):
    """A response under construction; ``data`` starts as ``{"changed": false}``."""

    __match_args__ = ("retcode", "message", "warning", "data")
    retcode: int
    message: str
    warning: list[str]
    data: Any

    def __init__(self, retcode: int = INTERNAL_ERROR, message: str = "Response is empty",
                 warning: list[str] | None = None, data: Any = _FRESH) -> None:
        self.retcode = retcode
        self.message = message
        self.warning = [] if warning is None else warning
        self.data = {"changed": False} if data is _FRESH else data

    @classmethod
    def failure(cls, retcode: int, message: str, warning: list[str] | None = None) -> ModResponse:
        """A failed response: ``retcode``, ``message`` and ``{"changed": false}``."""
        return cls(retcode=retcode, message=message, warning=list(warning or []))

    def merge_data(self, value: Any) -> None:
        """Merge ``value`` into ``data`` key by key when both are objects (upstream's set_data).

        A non-object value replaces ``data`` only when ``data`` is not an object.
        """
        if isinstance(self.data, dict):
            if isinstance(value, dict):
                self.data.update(value)
        else:
            self.data = value

    def as_dict(self) -> dict[str, Any]:
        """The response as serialised: ``retcode`` always, the rest only when not empty."""
        out: dict[str, Any] = {"retcode": self.retcode}
        if self.warning:
            out["warning"] = list(self.warning)
        if self.message:
            out["message"] = self.message
        if not _empty(self.data):
            out["data"] = self.data
        return out

    def to_json(self) -> str:
        """The response as one line of compact JSON (no newline)."""
        return compact_json(self.as_dict())
