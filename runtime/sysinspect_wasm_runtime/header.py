"""The header: the one JSON line a guest reads on its standard input (PROTOCOL.md 1.5)."""

from __future__ import annotations

from sysinspect_wasm.jsonio import compact_json_bytes

from .request import ModRequest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


def build_header(request: ModRequest, *, add_options: tuple[str, ...] = ()) -> dict[str, Any]:
    """The header object for ``request``: opts, args, config, ext, host, in that order.

    ``opts`` and ``args`` lose their ``rt.*`` entries and keep the request's
    order; ``add_options`` (e.g. ``man`` for ``rt.man``) are appended when not
    already present; ``config`` carries the injected default sharelib.
    """
    options = request.guest_options()
    options += [o for o in add_options if o not in options]
    return {
        "opts": options,
        "args": request.guest_arguments(),
        "config": dict(request.config),
        "ext": dict(request.ext),
        "host": dict(request.host),
    }


def header_line(header: Mapping[str, Any]) -> bytes:
    """The guest's whole standard input: the header as compact serde-style JSON and a newline."""
    return compact_json_bytes(header) + b"\n"
