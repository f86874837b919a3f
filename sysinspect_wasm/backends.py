"""Choosing a backend by name: ``wasmtime``, ``pywasm`` or ``auto``."""

from __future__ import annotations

from .errors import BackendUnavailable
from .executor import Backend

# The one home of the backend names: the backends' ``name``, ``rt.backend``, the command lines'
# choices and the differential tester's default pair all use these.
WASMTIME = "wasmtime"
PYWASM = "pywasm"
AUTO = "auto"

# Loaded by name, so that the core does not import the backends above it (tests/test_layering.py).
BACKENDS: dict[str, tuple[str, str]] = {
    WASMTIME: ("sysinspect_wasm_production", "WasmtimeBackend"),
    PYWASM: ("sysinspect_wasm_reference", "PywasmBackend"),
}
BACKEND_NAMES = tuple(BACKENDS)
"""The concrete backends, wasmtime first (the pair the differential tester compares)."""
BACKEND_CHOICES = (AUTO, *BACKENDS)
"""Every value ``rt.backend`` and ``--backend`` accept."""


def _load(name: str) -> Backend:
    package, cls_name = BACKENDS[name]
    try:
        module = __import__(package)  # a top-level package (importlib, with warnings, stays unloaded)
    except ImportError as exc:
        missing = exc.name or package
        raise BackendUnavailable(
            f"the {name} backend is unavailable: cannot import {missing!r} ({exc}); "
            f"install it or choose another backend ({', '.join(n for n in BACKENDS if n != name)})"
        ) from None
    backend: Backend = getattr(module, cls_name)()
    return backend


def get_backend(name: str = AUTO) -> Backend:
    """The backend called ``name``; ``auto`` prefers wasmtime and falls back to pywasm.

    Raises :class:`BackendUnavailable` with a one-line reason when the named
    backend cannot be imported, and ``ValueError`` for an unknown name.
    """
    if name == AUTO:
        try:
            return _load(WASMTIME)
        except BackendUnavailable:
            return _load(PYWASM)
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}: choose one of {', '.join(BACKEND_CHOICES)}")
    return _load(name)
