"""Shared fixtures: the two backends, and WAT guests compiled on the fly."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest
from product import Product, make_product

from sysinspect_wasm import Backend, BackendUnavailable, get_backend
from sysinspect_wasm.backends import BACKEND_NAMES


def wat_to_wasm(text: str) -> bytes:
    """Compile WebAssembly text with wasm-tools (a dev dependency) or wasmtime."""
    tool = shutil.which("wasm-tools")
    if tool is not None:
        done = subprocess.run([tool, "parse", "-", "-o", "/dev/stdout"], input=text.encode(), capture_output=True, check=False)
        if done.returncode != 0:
            raise ValueError(f"invalid WAT: {done.stderr.decode()}")
        return done.stdout
    import wasmtime

    return bytes(wasmtime.wat2wasm(text))


def load_backend(name: str) -> Backend:
    """The named backend, or a skip (with the reason) when this host cannot import it."""
    try:
        return get_backend(name)
    except BackendUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(params=BACKEND_NAMES)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """Each backend in turn."""
    yield load_backend(request.param)


@pytest.fixture(scope="session")
def product() -> Iterator[Product]:
    """The sdist and wheel built once per session, the wheel installed into a fresh environment (tests/product.py)."""
    built = make_product()
    yield built
    shutil.rmtree(built.venv.parent, ignore_errors=True)
