"""Choosing a backend: by name, automatically, and when wasmtime cannot be imported."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

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


def test_auto_falls_back_to_pywasm_when_wasmtimes_library_cannot_load(tmp_path: Path) -> None:
    """A wasmtime-py whose native library does not load (a glibc build on musl; ctypes raises OSError, an
    unsupported platform RuntimeError) is no wasmtime for the choice: auto runs pywasm, no internal error."""
    for error in ("OSError('Error loading shared library ld-linux-x86-64.so.2')",
                  "RuntimeError('unsupported architecture for wasmtime: riscv64')"):
        fake = tmp_path / error[:7] / "wasmtime"
        fake.mkdir(parents=True)
        (fake / "__init__.py").write_text(f"raise {error}\n")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake.parent), *sys.path])}
        script = WITHOUT_WASMTIME.replace('sys.modules["wasmtime"] = None  # makes \'import wasmtime\' raise ImportError', "")
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
        lines = done.stdout.splitlines()
        assert lines[0] == "pywasm", done.stderr
        assert lines[1].startswith("ERROR the wasmtime backend is unavailable: cannot import 'wasmtime' "
                                   "(wasmtime is installed but cannot load on this host: "), lines
        assert len(lines) == 2, "the error must be one line"


def test_auto_prefers_wasmtime_when_importable() -> None:
    pytest.importorskip("wasmtime")
    assert get_backend("auto").name == "wasmtime"


def test_named_backends() -> None:
    assert get_backend("pywasm").name == "pywasm"


def test_unknown_backend_name() -> None:
    with pytest.raises(ValueError, match="unknown backend 'v8'"):
        get_backend("v8")

