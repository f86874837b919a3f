"""The production backend of the Sysinspect Wasm runtime: wasmtime, compiling guests to native code.

Importing this package raises ImportError when ``wasmtime`` cannot be
imported (no wheel for this host) or cannot load its native library here
(a glibc library on a musl host, a 32-bit or unsupported platform: wasmtime-py
raises OSError or RuntimeError then), so automatic backend selection can
fall back to the reference backend.
"""

try:
    import wasmtime  # noqa: F401  # first, so a missing wasmtime fails the import right here
except (OSError, RuntimeError) as exc:  # installed, but its native library does not load on this host
    raise ImportError(f"wasmtime is installed but cannot load on this host: {exc}", name="wasmtime") from None

from .backend import WasmtimeBackend, WasmtimeInstance, WasmtimeModule
from .engine import DEFAULT_SETTINGS, EngineSettings

__all__ = ["DEFAULT_SETTINGS", "EngineSettings", "WasmtimeBackend", "WasmtimeInstance", "WasmtimeModule"]
