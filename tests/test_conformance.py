"""The official WASI preview 1 test suite (72 prebuilt tests) through the executor, on both backends.

The suite is copied into tests/data/wasi-testsuite with its licence. Each test
runs on a temporary copy of its fixture folder. As the suite's own runner
does, stdout and stderr are compared when the test's JSON names them; exit
code always.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import load_backend

from sysinspect_wasm import Limits, Preopen, RunSpec
from sysinspect_wasm.backends import BACKEND_NAMES

SUITE = Path(__file__).parent / "data" / "wasi-testsuite"
FOLDERS = ("c", "assemblyscript", "rust")

# Tests that cannot pass on a backend: (backend, "folder/name") -> reason. Each is a strict xfail.
KNOWN_FAILURES: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class SuiteTest:
    """One test of the suite and its legacy JSON specification."""

    wasm: Path
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    root: str | None = None
    exit_code: int = 0
    stdout: str | None = None
    stderr: str | None = None

    @property
    def id(self) -> str:
        return f"{self.wasm.parent.name}/{self.wasm.stem}"


def discover() -> list[SuiteTest]:
    """Every ``*.wasm`` of the suite with its spec (defaults where there is no JSON)."""
    tests = []
    for folder in FOLDERS:
        for wasm in sorted((SUITE / folder).glob("*.wasm")):
            spec_file = wasm.with_suffix(".json")
            spec = json.loads(spec_file.read_text()) if spec_file.exists() else {}
            tests.append(SuiteTest(
                wasm=wasm,
                args=tuple(spec.get("args", ())),
                env=dict(spec.get("env", {})),
                root=spec.get("root"),
                exit_code=spec.get("exit_code", 0),
                stdout=spec.get("stdout"),
                stderr=spec.get("stderr"),
            ))
    return tests


TESTS = discover()


def test_the_whole_suite_is_here() -> None:
    assert len(TESTS) == 72
    assert (SUITE / "LICENSE").exists()


def cases() -> list[Any]:
    params = []
    for backend_name in BACKEND_NAMES:
        for test in TESTS:
            marks = []
            reason = KNOWN_FAILURES.get((backend_name, test.id))
            if reason:
                marks.append(pytest.mark.xfail(strict=True, reason=reason))
            params.append(pytest.param(backend_name, test, id=f"{backend_name}-{test.id}", marks=marks))
    return params


def fixture_copy(test: SuiteTest, tmp_path: Path) -> tuple[Preopen, ...]:
    """A fresh copy of the test's root folder, cleaned of earlier artifacts, preopened as ``/``."""
    if test.root is None:
        return ()
    root = tmp_path / "root"
    shutil.copytree(test.wasm.parent / test.root, root, symlinks=True)
    for leftover in root.rglob("*.cleanup"):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()
    return (Preopen(root, "/", writable=True),)


@pytest.mark.parametrize(("backend_name", "test"), cases())
def test_suite(backend_name: str, test: SuiteTest, tmp_path: Path) -> None:
    backend = load_backend(backend_name)
    module = backend.load(test.wasm, name=test.id)
    spec = RunSpec(
        argv=(test.wasm.name, *test.args),
        env=test.env,
        preopens=fixture_copy(test, tmp_path),
        limits=Limits(timeout=120),
    )
    result = module.run(spec)
    assert result.trap is None, f"trapped: {result.trap}; stderr: {result.stderr[-2000:]!r}"
    assert result.exit_code == test.exit_code, f"stderr: {result.stderr[-2000:]!r}"
    if test.stdout is not None:
        assert result.stdout.decode() == test.stdout
    if test.stderr is not None:
        assert result.stderr.decode() == test.stderr
