"""From a drawn request to what the guest receives: the runtime's own header builder, reused.

The differential harness must hand the guest exactly what ``wasm-runtime``
hands it (PROTOCOL.md 1.5), so it does not build the header itself: it
validates the request with the runtime's :func:`request_from_object` and
builds the header with the runtime's :func:`build_header`/:func:`header_line`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sysinspect_wasm_runtime.header import build_header, header_line
from sysinspect_wasm_runtime.request import RequestError, request_from_object, runtime_settings

from sysinspect_wasm.jsonio import loads_serde

__all__ = ["GuestInput", "RequestError", "guest_input"]


@dataclass(frozen=True)
class GuestInput:
    """The header object a request produces, and the guest's whole stdin (header line)."""

    header: dict[str, Any]
    stdin: bytes


def guest_input(document: dict[str, Any]) -> GuestInput:
    """The header and stdin the runtime would give a guest for request ``document``.

    Raises :class:`RequestError` when the runtime itself would refuse the
    request (it never reaches a guest then).
    """
    # The runtime reads the request as text, the way serde_json reads it (big integers become floats...):
    # so does the harness, or the header it expects would hold values the runtime never sees.
    request = request_from_object(loads_serde(json.dumps(document, ensure_ascii=False)))
    settings = runtime_settings(request)
    header = build_header(request, add_options=("man",) if settings.man else ())
    return GuestInput(header, header_line(header))
