"""The production backend of the Sysinspect Wasm runtime: wasmtime, compiling guests to native code.

Importing this package raises ImportError when ``wasmtime`` cannot be
imported (no wheel for this host), so automatic backend selection can fall
back to the reference backend.
"""

import wasmtime  # noqa: F401  # first, so a missing wasmtime fails the import right here

from .backend import WasmtimeBackend, WasmtimeInstance, WasmtimeModule
from .engine import DEFAULT_SETTINGS, EngineSettings

__all__ = ["DEFAULT_SETTINGS", "EngineSettings", "WasmtimeBackend", "WasmtimeInstance", "WasmtimeModule"]
