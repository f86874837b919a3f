"""Choosing a backend: by name, automatically, and when wasmtime cannot be imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from sysinspect_wasm import get_backend

# Run in a fresh interpreter where importing wasmtime fails, as on a host without a wheel.
WITHOUT_WASMTIME = textwrap.dedent(
    """
    import sys
    sys.modules["wasmtime"] = None  # makes 'import wasmtime' raise ImportError
    from sysinspect_wasm import BackendUnavailable, get_backend
    print(get_backend("auto").name)
    try:
        get_backend("wasmtime")
    except BackendUnavailable as exc:
        print("ERROR", exc)
    """
)


def test_auto_falls_back_to_pywasm_without_wasmtime() -> None:
    done = subprocess.run([sys.executable, "-c", WITHOUT_WASMTIME], capture_output=True, text=True, check=True)
    lines = done.stdout.splitlines()
    assert lines[0] == "pywasm"
    assert lines[1].startswith("ERROR the wasmtime backend is unavailable: cannot import 'wasmtime'")
    assert len(lines) == 2, "the error must be one line"


def test_auto_prefers_wasmtime_when_importable() -> None:
    pytest.importorskip("wasmtime")
    assert get_backend("auto").name == "wasmtime"


def test_named_backends() -> None:
    assert get_backend("pywasm").name == "pywasm"


def test_unknown_backend_name() -> None:
    with pytest.raises(ValueError, match="unknown backend 'v8'"):
        get_backend("v8")

