"""``wasm-runtime bundle``: what an operator registers on a SysMaster, laid out as it is registered.

A current SysMaster finds a runtime dispatcher only as an ELF file named
``wasm-runtime``, one per OS and architecture (PROTOCOL.md 5.1-5.3); a
minion syncs it to ``<sharelib>/modules/runtime/wasm`` and every library file
to ``<sharelib>/lib/...`` without an executable bit, and deletes every file
there its master does not list (5.2). So the bundle is:

``DIR/<target>/wasm-runtime``
    the launcher (``launcher/wasm-runtime.c``), static, cross-built with
    ``zig cc`` from the ``ziglang`` package. It finds a Python 3.11 or newer
    and runs ``boot.py`` of the tree below, isolated (``-I -S -B``).
``DIR/<target>/wasm-runtime.spec``
    its module documentation (``name: runtime.wasm``, version, description,
    every argument and option), made from the manual
    (:func:`sysinspect_wasm_runtime.manual.spec_document`).
``DIR/lib/runtime/wasm-runtime/<version>/``
    ``boot.py``; ``python/``: this runtime's packages, pywasm, and the start-up
    that boot.py hands over to (``sysinspect_wasm_launcher/start.py`` and
    ``image.py``), with their bytecode; ``wasmtime/``: wasmtime-py with the glibc native library of each
    target that has a wheel (wasmtime-py looks for ``linux-<machine>/``, so
    one package serves them all); ``wasmtime-musl/``: the same with the musl
    builds (boot.py puts the one matching the interpreter on the path). Versioned, so that a launcher never runs
    another version's tree while a new one is rolled out.
``DIR/REGISTER.md``
    the SysMaster commands.

Why the split: the launcher must be one small native file per target, and
everything that can be shared (all of it but wasmtime's native libraries) is
published once, as one library. Nothing in the tree needs an executable bit,
a symlink, or a file written at call time.

Reproducible: files are written in sorted order with fixed modes (0644, the
launcher 0755) and a fixed mtime (``SOURCE_DATE_EPOCH``, else 1980-01-01),
bytecode is hash-checked (no timestamps) with paths relative to the tree,
the launcher is built from a fixed relative source path, stripped, without
a build id. Two builds from the same inputs give the same bytes.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import importlib.util
import os
import py_compile
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sysinspect_wasm.clibrary import c_library
from sysinspect_wasm.errors import WasmRuntimeError
from sysinspect_wasm.usage import PROG as RUNTIME_PROG

from .start import ENGINE_ROOTS

PROG = f"{RUNTIME_PROG} bundle"
HERE = Path(__file__).resolve().parent
LAUNCHER_SOURCE = HERE / "wasm-runtime.c"
BOOT_SOURCE = HERE / "boot.py"
START_MODULES = ("__init__.py", "start.py", "image.py", "warmpath.py")
"""This package's part of the tree (``python/sysinspect_wasm_launcher/``): what boot.py hands over to."""
ZIGLANG_PIN = "0.17.1"
"""The ziglang release the launchers are built and checked with (the corpus build pins the same)."""
PAYLOAD_SUBDIR = ("lib", "runtime", "wasm-runtime")
PACKAGES = ("sysinspect_wasm", "sysinspect_wasm_reference", "sysinspect_wasm_production", "sysinspect_wasm_runtime",
            "pywasm", "jeepney", "elftools")
"""The pure-Python packages of ``python/`` (jeepney: the D-Bus client of the PackageKit helpers; elftools: the
DWARF reader that gives a trap's backtrace its source lines, imported only when a guest traps). Not the
differential tester (``wasm-runtime diff``) nor the corpus:
a minion runs modules, it does not test backends, and its modules come from its sharelib."""
DIST_INFO = ("pywasm",)
"""Packages whose version is read from their metadata at run time (the reference backend checks pywasm's)."""
DEFAULT_EPOCH = 315532800
"""1980-01-01, the earliest time a zip can hold: the mtime of every file when SOURCE_DATE_EPOCH is not set."""


@dataclass(frozen=True)
class Target:
    """One minion platform: how to build its launcher, what Sysinspect calls it, which wasmtime wheel it gets."""

    name: str
    zig: str
    machine: int
    """ELF ``e_machine`` (PROTOCOL.md 5.1: x86_64 62, arm64 183, arm 40, riscv 243)."""
    arch: str
    """The architecture Sysinspect files it under."""
    os: str
    wheel_platform: str | None
    """pip's ``--platform`` for its glibc (manylinux) wasmtime wheel; ``None``: no wheel exists, the target runs
    pywasm."""
    musl_platform: str | None
    """pip's ``--platform`` for its musl (musllinux) wasmtime wheel (Alpine and other musl systems)."""
    native_dir: str | None
    """Where wasmtime-py looks for its library on this target (``wasmtime/<native_dir>/_libwasmtime.so``)."""
    static: bool = True


TARGETS = {
    t.name: t for t in (
        Target("linux-x86_64", "x86_64-linux-musl", 62, "x86_64", "linux", "manylinux2014_x86_64",
               "musllinux_1_2_x86_64", "linux-x86_64"),
        Target("linux-arm64", "aarch64-linux-musl", 183, "arm64", "linux", "manylinux2014_aarch64",
               "musllinux_1_2_aarch64", "linux-aarch64"),
        Target("linux-arm", "arm-linux-musleabihf", 40, "arm", "linux", None, None, None),
        Target("linux-riscv", "riscv64-linux-musl", 243, "riscv", "linux", None, None, None),
        # FreeBSD's libc is only linked dynamically; zig marks the file with a note, not EI_OSABI, and a SysMaster
        # reads EI_OSABI (or section names): the bundle brands it (EI_OSABI 9), as FreeBSD's brandelf does.
        Target("freebsd-x86_64", "x86_64-freebsd", 62, "x86_64", "freebsd", None, None, None, static=False),
    )
}
DEFAULT_TARGETS = ("linux-x86_64", "linux-arm64", "linux-arm", "linux-riscv")
LIBCS = tuple(ENGINE_ROOTS)
"""The C libraries the tree carries wasmtime's native library for: boot.py puts the matching root on the path."""
ELFOSABI_FREEBSD = 9


class BundleError(WasmRuntimeError):
    """The bundle cannot be built; the text says what failed and what to do."""


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- the launcher -------------------------------------------------------------


def zig_command() -> list[str]:
    """``python -m ziglang``, installing the pinned ``ziglang`` package into this environment when it is missing."""
    if importlib.util.find_spec("ziglang") is None:
        say(f"bundle: the launchers are built with zig from the PyPI package ziglang; installing ziglang=={ZIGLANG_PIN}")
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                               f"ziglang=={ZIGLANG_PIN}"], check=False)
        if done.returncode != 0:
            raise BundleError(f"cannot install ziglang=={ZIGLANG_PIN} with pip (exit status {done.returncode}); "
                              f"install it yourself: {sys.executable} -m pip install ziglang=={ZIGLANG_PIN}")
        importlib.invalidate_caches()
    return [sys.executable, "-m", "ziglang"]


def build_launcher(target: Target, version: str, out: Path) -> None:
    """Cross-build the launcher for ``target`` into the file ``out`` (checked for its ELF machine)."""
    with tempfile.TemporaryDirectory(prefix="wasm-runtime-launcher-") as work:
        # a fixed relative source path: nothing of the build folder can reach the binary
        shutil.copyfile(LAUNCHER_SOURCE, Path(work) / "wasm-runtime.c")
        command = [*zig_command(), "cc", "-target", target.zig, "-Os", "-s", "-Wall", "-Wextra", "-Werror",
                   "-Wl,--build-id=none", f'-DWR_VERSION="{version}"', f'-DWR_TARGET="{target.name}"',
                   *(["-static"] if target.static else []), "-o", "wasm-runtime", "wasm-runtime.c"]
        # zig's own global cache (it keeps the target's libc, built once: about a minute per target otherwise)
        done = subprocess.run(command, cwd=work, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BundleError(f"zig cc -target {target.zig} failed (exit status {done.returncode}):\n{done.stderr.strip()}")
        data = bytearray((Path(work) / "wasm-runtime").read_bytes())
    if target.os == "freebsd":
        data[7] = ELFOSABI_FREEBSD
    found = elf_machine(bytes(data))
    if found != target.machine:
        raise BundleError(f"the {target.name} launcher has ELF machine {found}, not {target.machine}")
    out.write_bytes(bytes(data))


def elf_machine(data: bytes) -> int | None:
    """The ``e_machine`` of an ELF file's bytes, ``None`` when they are not ELF."""
    if data[:4] != b"\x7fELF" or len(data) < 20:
        return None
    order = "<" if data[5] == 1 else ">"
    machine: int = struct.unpack(order + "H", data[18:20])[0]
    return machine


# -- the library tree -------------------------------------------------------------


def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise BundleError(f"the package {name} is not installed in {sys.executable}'s environment; "
                          "install the project there (bash scripts/bootstrap)")
    return Path(next(iter(spec.submodule_search_locations)))


def python_files(root: Path) -> Iterable[tuple[Path, str]]:
    """``(file, path relative to root's parent)`` of every ``.py`` file of the package at ``root``."""
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" not in path.parts:
            yield path, path.relative_to(root.parent).as_posix()


def dist_info(name: str) -> tuple[str, bytes]:
    """``(folder name, METADATA)`` of the installed distribution ``name``."""
    from importlib.metadata import distribution

    dist = distribution(name)
    metadata = dist.read_text("METADATA")
    if metadata is None:
        raise BundleError(f"the installed {name} has no METADATA")
    return f"{name.replace('-', '_')}-{dist.version}.dist-info", metadata.encode()


def installed_version(name: str, why: str) -> str:
    """The version of the installed distribution ``name``; ``why`` says what needs it, for the error."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        raise BundleError(f"{name} is not installed in {sys.executable}'s environment: {why}") from None


def platform_of(target: Target, libc: str) -> str:
    """pip's ``--platform`` of ``target``'s wasmtime wheel for the C library ``libc``."""
    platform = target.wheel_platform if libc == "glibc" else target.musl_platform
    assert platform is not None, (target.name, libc)
    return platform


def native_library(target: Target, libc: str, version: str, wheel_dir: Path | None, cache: Path) -> bytes:
    """The bytes of ``_libwasmtime.so`` for ``target`` and the C library ``libc``: from the installed package when
    it is this machine's (this interpreter's architecture and C library), else from the target's wheel of the
    same version (``wheel_dir``, or downloaded with pip into ``cache``)."""
    assert target.native_dir is not None
    platform = platform_of(target, libc)
    installed = package_dir("wasmtime") / target.native_dir / "_libwasmtime.so"
    if installed.is_file() and c_library() == libc:
        return installed.read_bytes()
    wheel = _find_wheel(wheel_dir or cache, version, target, libc)
    if wheel is None and wheel_dir is not None:
        raise BundleError(f"no wasmtime {version} wheel for {platform} in {wheel_dir}; fetch it with: "
                          f"pip download --only-binary=:all: --platform {platform} --no-deps "
                          f"wasmtime=={version} -d {wheel_dir}")
    if wheel is None:
        say(f"bundle: downloading the wasmtime {version} wheel for {target.name}, {libc} ({platform})")
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                               "--only-binary=:all:", "--platform", platform, "--no-deps",
                               f"wasmtime=={version}", "-d", str(cache)], capture_output=True, text=True, check=False)
        wheel = _find_wheel(cache, version, target, libc)
        if done.returncode != 0 or wheel is None:
            raise BundleError(f"cannot download the wasmtime {version} wheel for {platform} "
                              f"({done.stderr.strip().splitlines()[-1:] or 'no wheel'}); download it elsewhere "
                              f"and give its folder with --wheel-dir")
    member = f"wasmtime/{target.native_dir}/_libwasmtime.so"
    with zipfile.ZipFile(wheel) as archive:
        try:
            return archive.read(member)
        except KeyError:
            raise BundleError(f"{wheel.name} holds no {member}") from None


WHEEL_FAMILIES = {"glibc": "manylinux", "musl": "musllinux"}
"""The platform tag family of the wheels built for each C library."""


def _find_wheel(folder: Path, version: str, target: Target, libc: str) -> Path | None:
    """The wheel of wasmtime ``version`` in ``folder`` for ``target``'s machine and the C library ``libc``."""
    assert target.native_dir is not None
    family, machine = WHEEL_FAMILIES[libc], target.native_dir.removeprefix("linux-")
    if not folder.is_dir():
        return None
    for path in sorted(folder.glob(f"wasmtime-{version}-*.whl")):
        tags = path.name[: -len(".whl")].split("-")[-1]
        if any(tag.startswith(family) and tag.endswith("_" + machine) for tag in tags.split(".")):
            return path
    return None


class Tree:
    """The files of the library tree, gathered in memory and written in one sorted, normalised pass."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def add(self, path: str, data: bytes) -> None:
        if path in self.files and self.files[path] != data:
            raise BundleError(f"two different files for {path} in the library tree")
        self.files[path] = data

    def check_sync_names(self) -> None:
        """Refuse names a minion's sync would mangle: it writes ``<path without its last extension>.checksum.sha256``
        beside each file (PROTOCOL.md 5.2), so two files of a folder with the same stem would share one."""
        seen: dict[str, str] = {}
        for path in self.files:
            folder, _, name = path.rpartition("/")
            stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
            key = f"{folder}/{stem}"
            if path.endswith(".checksum.sha256") or key in seen:
                raise BundleError(f"{path} and {seen.get(key, 'the sync')} would share the checksum file "
                                  f"{key}.checksum.sha256 on a minion")
            seen[key] = path

    def write(self, root: Path, epoch: int) -> None:
        for path in sorted(self.files):
            out = root / path
            out.parent.mkdir(parents=True, exist_ok=True)
            put(out, self.files[path], 0o644, epoch)


def put(path: Path, data: bytes | None, mode: int, epoch: int) -> None:
    """Give the file ``path`` its bytes (``None``: as they are), ``mode`` and the bundle's fixed mtime."""
    if data is not None:
        path.write_bytes(data)
    path.chmod(mode)
    os.utime(path, (epoch, epoch))


def normalise_folders(root: Path, epoch: int) -> None:
    """Every folder under ``root`` (and ``root``) mode 0755 with the fixed mtime, deepest first."""
    for folder, _, _ in sorted(os.walk(root), key=lambda entry: -len(Path(entry[0]).parts)):
        os.chmod(folder, 0o755)
        os.utime(folder, (epoch, epoch))


@functools.cache  # wasmtime-py's sources go into both engine roots: each is compiled once
def bytecode(source: bytes, relative: str) -> bytes:
    """The hash-checked bytecode of ``source`` for this Python, its file name recorded as ``relative``."""
    with tempfile.TemporaryDirectory(prefix="wasm-runtime-pyc-") as work:
        src, pyc = Path(work) / "m.py", Path(work) / "m.pyc"
        src.write_bytes(source)
        py_compile.compile(str(src), cfile=str(pyc), dfile=relative, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
        return pyc.read_bytes()


def add_python(tree: Tree, prefix: str, source: bytes, relative: str) -> None:
    """A ``.py`` file and its bytecode in ``__pycache__``, where the interpreter looks for it."""
    tree.add(f"{prefix}/{relative}", source)
    folder, _, name = relative.rpartition("/")
    tag = sys.implementation.cache_tag
    cached = f"{folder}/__pycache__/{name[: -len('.py')]}.{tag}.pyc" if folder else f"__pycache__/{name[:-3]}.{tag}.pyc"
    tree.add(f"{prefix}/{cached}", bytecode(source, relative))


def boot_source(cache_tag: str) -> bytes:
    """boot.py as the tree carries it: told the cache tag of the Python whose bytecode the tree holds."""
    source = BOOT_SOURCE.read_bytes()
    placeholder = b'\nBUNDLED_TAG = ""\n'
    if source.count(placeholder) != 1:
        raise BundleError(f"{BOOT_SOURCE} must assign BUNDLED_TAG = \"\" once, on a line of its own")
    return source.replace(placeholder, f'\nBUNDLED_TAG = "{cache_tag}"\n'.encode())


def library_tree(version: str, targets: list[Target], wheel_dir: Path | None, cache: Path) -> Tree:
    tree = Tree()
    top = "/".join((*PAYLOAD_SUBDIR, version))
    tree.add(f"{top}/boot.py", boot_source(sys.implementation.cache_tag))
    for name in START_MODULES:
        add_python(tree, f"{top}/python", (HERE / name).read_bytes(), f"{__package__}/{name}")
    for name in PACKAGES:
        for path, relative in python_files(package_dir(name)):
            add_python(tree, f"{top}/python", path.read_bytes(), relative)
    for name in DIST_INFO:
        folder, metadata = dist_info(name)
        tree.add(f"{top}/python/{folder}/METADATA", metadata)
    native = [t for t in targets if t.wheel_platform is not None]
    if native:
        engine = installed_version("wasmtime", "the bundle takes wasmtime-py's Python part from the installed "
                                   "package and pins the other targets' wheels to its version")
        folder, metadata = dist_info("wasmtime")
        sources = [(path.read_bytes(), relative) for path, relative in python_files(package_dir("wasmtime"))]
        # one root per C library, each a whole wasmtime-py: it loads its library from beside its own _ffi.py
        for libc in LIBCS:
            root = f"{top}/{ENGINE_ROOTS[libc]}"
            for source, relative in sources:
                add_python(tree, root, source, relative)
            tree.add(f"{root}/{folder}/METADATA", metadata)
            for target in native:
                assert target.native_dir is not None
                tree.add(f"{root}/wasmtime/{target.native_dir}/_libwasmtime.so",
                         native_library(target, libc, engine, wheel_dir, cache))
    tree.check_sync_names()
    return tree


# -- the bundle -------------------------------------------------------------------


def register_text(version: str, targets: list[Target]) -> str:
    lines = [
        f"# Registering sysinspect-wasm-runtime {version} on a SysMaster",
        "",
        "Run these on the SysMaster, from the folder holding this file. Each launcher is an ELF file named",
        "`wasm-runtime`, the only file name Sysinspect accepts for `runtime.wasm`; its version, description and",
        "documentation come from `wasm-runtime.spec` beside it.",
        "",
        "```sh",
    ]
    for target in targets:
        lines.append(f"sysinspect module -A --path ./{target.name}/wasm-runtime --name runtime.wasm"
                     f"    # {target.os}/{target.arch}")
    lines += [
        "sysinspect module -A --path ./lib -l    # the library tree every launcher runs",
        "sysinspect module -L                    # check: runtime.wasm once per OS and architecture",
        "sysinspect --sync",
        "```",
        "",
        "On the minions nothing is installed by hand: they need Python 3.11 or newer (`python3.14` ... `python3.11`",
        "or `python3`, on PATH or in /usr/bin, /usr/local/bin) and nothing else. Models call modules as",
        "`module: wasm.<id>` (the older `module: runtime.wasm-runtime` with `args: {rt.mod: <id>}` works too).",
        "",
        "| target | engine |",
        "| --- | --- |",
    ]
    for target in targets:
        engine = ("wasmtime (native code; glibc and musl builds), pywasm" if target.wheel_platform
                  else "pywasm only (no wasmtime wheel)")
        lines.append(f"| {target.name} | {engine} |")
    return "\n".join(lines) + "\n"


def wheel_cache() -> Path:
    """Where downloaded wheels are kept: the operator's own cache, not a shared temporary folder (a wheel someone
    else put there would ship their code to every minion)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sysinspect-wasm-runtime" / "wheels"


def bundle(output: Path, targets: list[Target], wheel_dir: Path | None, epoch: int) -> str:
    """Build the bundle into ``output`` (replaced if it is an earlier bundle); the text of REGISTER.md."""
    from sysinspect_wasm_runtime.manual import spec_document, to_yaml

    version = installed_version("sysinspect-wasm-runtime", "the bundle's version is the project's, from its "
                                "metadata (bash scripts/bootstrap installs it)")
    if any(not (ch.isalnum() or ch in ".-+_") for ch in version):  # it names the library folder and the launcher's
        raise BundleError(f"the version {version!r} cannot name the library folder (letters, digits, . - + _ only)")
    if output.exists():
        if not (output / "REGISTER.md").is_file() and any(output.iterdir()):
            raise BundleError(f"{output} exists and is not an earlier bundle (no REGISTER.md): give an empty or new folder")
        shutil.rmtree(output)
    tree = library_tree(version, targets, wheel_dir, wheel_cache())
    output.mkdir(parents=True)
    tree.write(output, epoch)
    spec = to_yaml(spec_document(version)).encode()
    for target in targets:
        folder = output / target.name
        folder.mkdir()
        say(f"bundle: building the {target.name} launcher (zig cc -target {target.zig})")
        build_launcher(target, version, folder / "wasm-runtime")
        put(folder / "wasm-runtime", None, 0o755, epoch)
        put(folder / "wasm-runtime.spec", spec, 0o644, epoch)
    text = register_text(version, targets)
    put(output / "REGISTER.md", text.encode(), 0o644, epoch)
    normalise_folders(output, epoch)
    return text


def digest_tree(root: Path) -> str:
    """One SHA-256 over every file's relative path, mode and bytes: equal for byte-identical bundles."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(root).as_posix()}\0{path.stat().st_mode:o}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


DESCRIPTION = """\
Write what an operator registers on a SysMaster, laid out as it is registered:

  DIR/<target>/wasm-runtime       a static ELF launcher (register as runtime.wasm)
  DIR/<target>/wasm-runtime.spec  its documentation: name, version, arguments
  DIR/lib/                        the library tree the launchers run
                                  (sysinspect module -A --path DIR/lib -l)
  DIR/REGISTER.md                 the exact SysMaster commands

A minion then needs Python 3.11 or newer and nothing else. The launchers are
built with zig cc (PyPI package ziglang, installed when missing); wasmtime
wheels of foreign targets are downloaded with pip, pinned to the installed
wasmtime version, unless --wheel-dir holds them."""

EPILOG = f"""\
targets: {', '.join(TARGETS)} (default: {', '.join(DEFAULT_TARGETS)})
  linux-x86_64 and linux-arm64 get wasmtime and pywasm; the others pywasm only.

examples:
  wasm-runtime bundle --output dist/bundle
  wasm-runtime bundle --output dist/x86 --target linux-x86_64
  pip download --only-binary=:all: --platform manylinux2014_aarch64 --no-deps wasmtime==VERSION -d wheels
  wasm-runtime bundle --output dist/bundle --wheel-dir wheels          (offline)
"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", "-o", required=True, metavar="DIR", help="the bundle's folder (replaced if it is an earlier bundle)")
    parser.add_argument("--target", "-t", action="append", choices=sorted(TARGETS), metavar="TARGET",
                        help="a target to build (repeatable; default: the four Linux targets)")
    parser.add_argument("--wheel-dir", metavar="DIR", help="take foreign wasmtime wheels from this folder, download nothing")
    ns = parser.parse_args(argv)
    targets = [TARGETS[name] for name in dict.fromkeys(ns.target or DEFAULT_TARGETS)]
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", DEFAULT_EPOCH))
    try:
        text = bundle(Path(ns.output), targets, Path(ns.wheel_dir) if ns.wheel_dir else None, epoch)
    except BundleError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    print(text, end="")
    return 0
