"""The module library: ``<sharelib>/lib/runtime/wasm/<id>.wasm``.

It lives in the core because both the runtime (protocol and developer mode)
and the production backend's cache commands (``precompile``, ``cache``) list
modules the same way, and a backend may not import the runtime above it.

A module id is looked up only by comparing it with the names in a listing of
the module folder, never by joining it onto a path: an id such as ``../x``,
``/etc/passwd`` or ``a/b`` simply matches no listed name (PROTOCOL.md 1.4).
"""

from __future__ import annotations

import os

from .paths import join

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

DEFAULT_SHARELIB = "/usr/share/sysinspect"
MODULE_SUBDIR = ("lib", "runtime", "wasm")
MODULE_SUFFIX = ".wasm"


def module_dir(sharelib: str | os.PathLike[str]) -> Path:
    """The module folder of a sharelib root."""
    from pathlib import Path

    return Path(module_dir_name(sharelib))


def module_dir_name(sharelib: str | os.PathLike[str]) -> str:
    """:func:`module_dir` as a string, spelled as ``str(module_dir(sharelib))`` (see :mod:`.paths`)."""
    return join(sharelib, *MODULE_SUBDIR)


def modules(folder: str | os.PathLike[str]) -> dict[str, str]:
    """Module id -> file path for every regular ``<id>.wasm`` directly in ``folder``.

    Symlinks and anything else that is not a regular file are left out, as
    upstream does, and so are names that are not valid UTF-8 (no JSON request
    could name them). Raises ``OSError`` when the folder cannot be read.
    """
    found: dict[str, str] = {}
    with os.scandir(folder) as listing:
        for entry in listing:
            name = entry.name
            if len(name) <= len(MODULE_SUFFIX) or not name.endswith(MODULE_SUFFIX):
                continue
            try:
                name.encode("utf-8")
                regular = entry.is_file(follow_symlinks=False)
            except (UnicodeEncodeError, OSError):
                continue
            if regular:
                found[name[: -len(MODULE_SUFFIX)]] = entry.path
    return found


def list_modules(folder: Path) -> list[str]:
    """The sorted ids of the modules in ``folder``; raises ``OSError`` when it cannot be read."""
    return sorted(modules(folder))


def find_module(folder: Path, module_id: str) -> Path | None:
    """The file of module ``module_id`` if it is in the listing of ``folder``, else ``None``.

    Raises ``OSError`` when the folder cannot be read.
    """
    path = modules(folder).get(module_id)
    if path is None:
        return None
    from pathlib import Path

    return Path(path)

