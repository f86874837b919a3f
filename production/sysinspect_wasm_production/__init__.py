"""The production backend of the Sysinspect Wasm runtime: wasmtime, compiling guests to native code.

Importing this package raises ImportError when wasmtime-py is not installed
(no wheel for this host) or its native library cannot load here (a glibc
library on a musl host, a 32-bit or unsupported platform), so automatic
backend selection can fall back to the reference backend. It loads that
library through the lean binding (:mod:`.native`) and imports wasmtime-py
itself only where it is needed (compiling, bare instances, the cache
commands): a warm call of a cached artifact never does.

The names below are imported from their modules on first use (PEP 562).
"""

from . import native  # noqa: F401  # first, so a missing or unloadable wasmtime fails the import right here

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .backend import WasmtimeBackend, WasmtimeInstance, WasmtimeModule
    from .engine import DEFAULT_SETTINGS, EngineSettings

_HOMES = {
    "DEFAULT_SETTINGS": "engine",
    "EngineSettings": "engine",
    "WasmtimeBackend": "backend",
    "WasmtimeInstance": "backend",
    "WasmtimeModule": "backend",
}

__all__ = ["DEFAULT_SETTINGS", "EngineSettings", "WasmtimeBackend", "WasmtimeInstance", "WasmtimeModule"]


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = __import__(f"{__name__}.{home}", fromlist=[name])
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
